"""Compact in-memory keys for the URIs of loaded events and invitees.

A run holds every live loaded event and invitee URI in memory (``known_data.py``).
As Python strings an event URI costs ~130 bytes and an invitee URI ~170; on
the ``large`` organization (110k events, 127k invitees) that alone was ~40 MB,
and memory grew with the organization. Calendly's URIs end in a UUID, so an
event is keyed by its 16 UUID bytes plus one byte naming its prefix (the base
URL and path, usually one per organization), and an invitee by its 16 bytes
under its event (``<event uri>/invitees/<uuid>``). A URI of another shape
keeps its string as key: nothing is lost, only less compact.
"""

from __future__ import annotations

import re
import uuid

_UUID_AT_END = re.compile(r"^(.*/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_MAX_PREFIXES = 255
INVITEES_PATH = "/invitees/"
UUID_BYTES = 16

EventKey = bytes | str


class UriKeys:
    """Turns event URIs into compact keys and back, remembering their prefixes."""

    __slots__ = ("_index", "_prefixes")

    def __init__(self) -> None:
        self._prefixes: list[str] = []
        self._index: dict[str, int] = {}

    def key_of(self, uri: str, *, add: bool = True) -> EventKey:
        """The key of an event URI: 17 bytes for ``<prefix><uuid>``, else the URI itself.

        With ``add=False`` an unseen prefix keeps the URI as key (a lookup of
        a URI never loaded must not grow the prefix table).
        """
        match = _UUID_AT_END.match(uri)
        if match is None:
            return uri
        prefix = match.group(1)
        index = self._index.get(prefix)
        if index is None:
            if not add or len(self._prefixes) >= _MAX_PREFIXES:
                return uri
            index = self._index[prefix] = len(self._prefixes)
            self._prefixes.append(prefix)
        return uuid.UUID(match.group(2)).bytes + bytes((index,))

    def uri_of(self, key: EventKey) -> str:
        """The event URI a key was made from."""
        if isinstance(key, str):
            return key
        return self._prefixes[key[UUID_BYTES]] + str(uuid.UUID(bytes=key[:UUID_BYTES]))


def invitee_id(event_uri: str, invitee_uri: str) -> bytes | None:
    """16 bytes for ``<event_uri>/invitees/<uuid>``; None for an invitee URI of another shape."""
    start = len(event_uri) + len(INVITEES_PATH)
    if not invitee_uri.startswith(INVITEES_PATH, len(event_uri)) or not invitee_uri.startswith(
        event_uri
    ):
        return None
    tail = invitee_uri[start:]
    if len(tail) != 36 or _UUID_AT_END.match("/" + tail) is None:
        return None
    return uuid.UUID(tail).bytes


def invitee_uris(event_uri: str, ids: bytes) -> list[str]:
    """The invitee URIs of an event from its packed 16-byte ids."""
    base = event_uri + INVITEES_PATH
    return [
        base + str(uuid.UUID(bytes=ids[offset : offset + UUID_BYTES]))
        for offset in range(0, len(ids), UUID_BYTES)
    ]
