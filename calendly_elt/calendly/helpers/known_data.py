"""Known data: the live events and invitees already loaded, and their fingerprints.

Fingerprints are read from the destination itself: the loaded
``scheduled_events`` rows carry ``updated_at``, ``status`` and
``invitees_counter`` (the fingerprint) and ``start_time`` (which window an
event belongs to); ``invitees`` rows carry their ``event``. Keeping them in
dlt state would copy the whole table into every load package.

An event whose fingerprint changed gets its invitees re-read; a known live
event missing from a fully re-read window, or a known invitee missing from a
re-fetched list, vanished (``soft_deletes.py`` marks it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.compact_keys import EventKey, UriKeys, invitee_id, invitee_uris
from calendly_elt.calendly.helpers.known_records import (
    Fingerprint,
    KnownEvent,
    KnownRecords,
    StartIndex,
)
from calendly_elt.calendly.helpers.loaded import as_utc, iter_loaded
from calendly_elt.calendly.helpers.windows import Window

logger = logging.getLogger(__name__)

__all__ = [
    "READ_AT",
    "KnownData",
    "KnownEvent",
    "event_fingerprint",
    "fingerprint_of",
    "read_known_data",
]

_EVENTS_SQL = (
    "select uri, start_time, end_time, updated_at, status, invitees_counter__total,"
    " invitees_counter__active, {read_at} from {{table}} where is_deleted is not true"
)
READ_AT = "invitees_read_at"
_INVITEES_SQL = "select uri, event from {table} where is_deleted is not true"


def event_fingerprint(
    updated_at: Any, status: Any, invitees_total: Any, invitees_active: Any
) -> Fingerprint:
    """What must change for an event's invitees to be worth re-fetching."""
    moment = updated_at.astimezone(UTC) if isinstance(updated_at, datetime) else updated_at
    total = int(invitees_total) if invitees_total is not None else None
    active = int(invitees_active) if invitees_active is not None else None
    # one copy of "active"/"canceled" for every loaded event, not one each
    return (moment, sys.intern(status) if isinstance(status, str) else status, total, active)


def fingerprint_of(event: Mapping[str, Any]) -> Fingerprint:
    """Fingerprint of an event row as extracted (timestamps already datetimes)."""
    counter = event.get("invitees_counter") or {}
    return event_fingerprint(
        event.get("updated_at"), event.get("status"), counter.get("total"), counter.get("active")
    )


class KnownData:
    """Live events and invitees already in the destination, held compactly.

    Memory must not grow much with the organization: an event is a 17-byte
    key and a 44-byte packed record (``known_records.py``), an invitee 16
    bytes under its event (``compact_keys.py``), about a fifth of the Python
    objects they were. Values of unusual shapes are kept as they are.
    """

    __slots__ = ("_by_start", "_invitee_ids", "_keys", "_loose", "_loose_invitees", "_records")

    def __init__(
        self,
        events: Mapping[str, KnownEvent] | None = None,
        invitees_by_event: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._keys = UriKeys()
        self._records = KnownRecords()
        self._loose: dict[EventKey, KnownEvent] = {}
        self._invitee_ids: dict[EventKey, bytes] = {}
        self._loose_invitees: dict[EventKey, set[str]] = {}
        self._by_start: StartIndex | None = None
        for uri, known in (events or {}).items():
            self.add_event(uri, known)
        for event_uri, uris in (invitees_by_event or {}).items():
            for uri in uris:
                self.add_invitee(event_uri, uri)

    def add_event(self, uri: str, known: KnownEvent) -> None:
        """Record a live loaded event."""
        key = self._keys.key_of(uri)
        if not self._records.put(key, known):
            self._loose[key] = known
        self._by_start = None

    def add_invitee(self, event_uri: str, uri: str) -> None:
        """Record a live loaded invitee of ``event_uri``."""
        key = self._keys.key_of(event_uri)
        ident = invitee_id(event_uri, uri)
        if ident is None:
            self._loose_invitees.setdefault(key, set()).add(uri)
        else:
            self._invitee_ids[key] = self._invitee_ids.get(key, b"") + ident

    @property
    def event_count(self) -> int:
        """How many live events are known."""
        return len(self._records) + len(self._loose)

    @property
    def events_with_invitees(self) -> int:
        """How many events have live invitees known."""
        return len(self._invitee_ids.keys() | self._loose_invitees.keys())

    def event(self, uri: str) -> KnownEvent | None:
        """The loaded event, or None when it is not (or no longer) live."""
        key = self._keys.key_of(uri, add=False)
        return self._records.get(key) or self._loose.get(key)

    def invitees_read_at(self, event_uri: str) -> datetime | None:
        """When the loaded event's invitees were last read (None: new, or not recorded)."""
        known = self.event(event_uri)
        return known.invitees_read_at if known else None

    def changed(self, event: Mapping[str, Any]) -> bool:
        """Whether an event is new or its fingerprint differs from the loaded one."""
        known = self.event(event["uri"])
        return known is None or known.fingerprint != fingerprint_of(event)

    def vanished_events(self, window: Window, listed: set[str]) -> list[str]:
        """Known live events starting in ``window`` that its full listing lacks."""
        if self._by_start is None:
            self._by_start = StartIndex(self._records, self._loose)
        # a row loaded without a start (before quarantine existed) sits in no window
        in_window = (self._keys.uri_of(key) for key in self._by_start.between(window))
        return sorted(uri for uri in in_window if uri not in listed)

    def invitees_of(self, event_uris: Iterable[str]) -> list[str]:
        """Known live invitees of the given events."""
        return sorted(uri for event in event_uris for uri in self._invitees(event))

    def vanished_invitees(self, event_uri: str, listed: set[str]) -> list[str]:
        """Known live invitees of an event that its re-fetched invitee list lacks."""
        return sorted(set(self._invitees(event_uri)) - listed)

    def _invitees(self, event_uri: str) -> list[str]:
        key = self._keys.key_of(event_uri, add=False)
        ids = self._invitee_ids.get(key, b"")
        return [*invitee_uris(event_uri, ids), *self._loose_invitees.get(key, ())]


def _events_sql(pipeline: dlt.Pipeline) -> str:
    """The events query; ``invitees_read_at`` only where the loaded table has it yet."""
    tables: Mapping[str, Any] = (
        pipeline.default_schema.tables if pipeline.default_schema_name else {}
    )
    has_read_at = READ_AT in tables.get("scheduled_events", {}).get("columns", {})
    return _EVENTS_SQL.format(read_at=READ_AT if has_read_at else "null")


def read_known_data(pipeline: dlt.Pipeline) -> KnownData:
    """Read live events' fingerprints and invitees from the pipeline's destination.

    Args:
        pipeline: The dlt pipeline (its destination may not exist yet).

    Returns:
        What is loaded; empty when nothing is (first run, or no destination).
    """
    known = KnownData()
    # streamed in batches: the whole result as Python tuples was the run's largest allocation
    for row in iter_loaded(pipeline, "scheduled_events", _events_sql(pipeline)):
        uri, start, end, updated, status, total, active, read_at = row
        fingerprint = event_fingerprint(as_utc(updated), status, total, active)
        known.add_event(uri, KnownEvent(as_utc(start), as_utc(end), fingerprint, as_utc(read_at)))
    for uri, event in iter_loaded(pipeline, "invitees", _INVITEES_SQL):
        known.add_invitee(event, uri)
    logger.info(
        "known: %d live events, %d with invitees", known.event_count, known.events_with_invitees
    )
    return known
