"""The simulator's in-memory state: Calendly resources held in their API shape.

Every resource is stored as the exact JSON object the real API returns for it
(see the OpenAPI reference), so the HTTP layer only filters, sorts and pages,
mutations edit the objects the way Calendly does, and the ground truth reads
the same objects the pipeline will load.

Resource URIs always use the canonical base ``https://api.calendly.com``:
they are identifiers, identical whichever host or port serves them. Only
navigational links (``pagination.next_page``) use the base URL a request
arrived on.
"""

from __future__ import annotations

import bisect
import random
import threading
import uuid as uuid_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

API_BASE = "https://api.calendly.com"
AUTH_BASE = "https://auth.calendly.com"

Resource = dict[str, Any]


class SimulatorError(Exception):
    """A request the real API would refuse; carries Calendly's status and error body."""

    def __init__(
        self, status: int, title: str, message: str, details: list[Resource] | None = None
    ):
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message
        self.details = details or []

    def body(self) -> Resource:
        """The JSON error body Calendly sends."""
        body: Resource = {"title": self.title, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def uri_of(kind: str, uuid: str) -> str:
    """Canonical URI of a top-level resource, e.g. ``uri_of("users", "U1")``."""
    return f"{API_BASE}/{kind}/{uuid}"


def invitee_uri(event_uuid: str, invitee_uuid: str) -> str:
    """Canonical URI of an invitee (invitees live under their event)."""
    return f"{API_BASE}/scheduled_events/{event_uuid}/invitees/{invitee_uuid}"


def uuid_of(uri: str) -> str:
    """Last path segment of a Calendly URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def format_ts(moment: datetime) -> str:
    """Calendly's timestamp format: UTC, microseconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """Parse a Calendly timestamp (``Z`` or offset; none means UTC) into an aware UTC datetime.

    A timestamp without a zone is read as UTC, never as the machine's local time.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class SimClock:
    """The simulator's notion of "now": frozen and advanced by hand, or ticking.

    A frozen clock makes every response reproducible; a ticking clock moves
    forward with wall time from its start (used by ``sim serve``).
    """

    def __init__(self, start: datetime, ticking: bool = False) -> None:
        self._start = start.astimezone(UTC)
        self._offset = timedelta(0)
        self._ticking = ticking
        self._wall_start = datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current simulated instant (aware, UTC)."""
        with self._lock:
            moment = self._start + self._offset
            if self._ticking:
                moment += datetime.now(UTC) - self._wall_start
            return moment

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new now."""
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (must not go backwards)."""
        current = self.now()
        if moment < current:
            raise ValueError("the simulator clock cannot go backwards")
        self.advance(moment - current)


@dataclass
class Store:
    """All state of one simulated Calendly organization.

    Attributes are plain dicts keyed by uuid, holding API-shaped objects.
    ``lock`` guards every read-modify-write (the HTTP server is threaded).
    """

    clock: SimClock
    organization: Resource = field(default_factory=dict)
    users: dict[str, Resource] = field(default_factory=dict)
    organization_memberships: dict[str, Resource] = field(default_factory=dict)
    groups: dict[str, Resource] = field(default_factory=dict)
    event_types: dict[str, Resource] = field(default_factory=dict)
    events: dict[str, Resource] = field(default_factory=dict)
    invitees: dict[str, Resource] = field(default_factory=dict)
    invitees_by_event: dict[str, list[str]] = field(default_factory=dict)
    no_shows: dict[str, Resource] = field(default_factory=dict)
    routing_forms: dict[str, Resource] = field(default_factory=dict)
    routing_form_submissions: dict[str, Resource] = field(default_factory=dict)
    webhook_subscriptions: dict[str, Resource] = field(default_factory=dict)
    # personal access tokens: token -> user uuid
    personal_access_tokens: dict[str, str] = field(default_factory=dict)
    # roles by user uuid: "owner" | "admin" | "user" (absent: not a member any more)
    roles: dict[str, str] = field(default_factory=dict)
    # the PATs the generator hands out: an org owner/admin's and a plain member's
    admin_token: str = ""
    member_token: str = ""
    # webhook subscription uuid -> signing key (never served back by the API)
    webhook_signing_keys: dict[str, str] = field(default_factory=dict)
    # called as listener(event_name, payload) by every mutation (webhook fan-out)
    listeners: list[Callable[[str, Resource], None]] = field(default_factory=list)
    # events sorted by start_time: (start_time_iso, uuid); kept in sync by add_event
    _event_index: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # source of every id a mutation creates (seeded: same history -> same uuids)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    # simulator-only settings per event type uuid (not served by the API):
    # {"hosts": [user uuid, ...], "invitee_limit": int, "location_kind": str | None}
    event_type_settings: dict[str, Resource] = field(default_factory=dict)
    # group uuid -> uuids of its member users (for group scope filters)
    group_members: dict[str, list[str]] = field(default_factory=dict)
    # no-show uuid by invitee uuid (a marked invitee has exactly one)
    no_show_of_invitee: dict[str, str] = field(default_factory=dict)
    # no-show marks hosts will make later: a heap of (due ts, seq, invitee uuid), see lateness.py
    pending_marks: list[tuple[str, int, str]] = field(default_factory=list)
    _bulk_loading: bool = False

    def new_uuid(self) -> str:
        """A fresh, deterministic (seeded) uuid for a resource a mutation creates."""
        return str(uuid_module.UUID(int=self.rng.getrandbits(128), version=4))

    @contextmanager
    def bulk_loading(self) -> Iterator[None]:
        """Defer the start-time index upkeep while loading many events, then sort once."""
        self._bulk_loading = True
        try:
            yield
        finally:
            self._bulk_loading = False
            self._event_index.sort()

    # ---- writes -----------------------------------------------------------

    def add_event(self, event: Resource) -> None:
        """Insert a scheduled event and index it by start time."""
        uuid = uuid_of(event["uri"])
        self.events[uuid] = event
        self.invitees_by_event.setdefault(uuid, [])
        if self._bulk_loading:
            self._event_index.append((event["start_time"], uuid))
        else:
            bisect.insort(self._event_index, (event["start_time"], uuid))

    def add_invitee(self, invitee: Resource) -> None:
        """Insert an invitee under its event."""
        event_uuid = uuid_of(invitee["event"])
        uuid = uuid_of(invitee["uri"])
        self.invitees[uuid] = invitee
        self.invitees_by_event.setdefault(event_uuid, []).append(uuid)

    def remove_event(self, uuid: str) -> None:
        """Delete an event and all its invitees (data-compliance deletion)."""
        event = self.events.pop(uuid)
        self._event_index.remove((event["start_time"], uuid))
        for invitee_uuid in self.invitees_by_event.pop(uuid, []):
            self.invitees.pop(invitee_uuid, None)

    def remove_invitee(self, uuid: str) -> None:
        """Delete one invitee (data-compliance deletion)."""
        invitee = self.invitees.pop(uuid)
        event_uuid = uuid_of(invitee["event"])
        self.invitees_by_event[event_uuid].remove(uuid)

    def notify(self, event_name: str, payload: Resource) -> None:
        """Tell every listener that ``event_name`` happened (e.g. ``invitee.created``)."""
        for listener in list(self.listeners):
            listener(event_name, payload)

    # ---- reads ------------------------------------------------------------

    def events_between(
        self, min_start: str | None = None, max_start: str | None = None
    ) -> Iterator[Resource]:
        """Events with ``min_start <= start_time < max_start``, ascending.

        Bounds are Calendly timestamp strings (same format as stored, so they
        compare lexicographically).
        """
        lo = 0 if min_start is None else bisect.bisect_left(self._event_index, (min_start, ""))
        hi = (
            len(self._event_index)
            if max_start is None
            else bisect.bisect_left(self._event_index, (max_start, ""))
        )
        for _, uuid in self._event_index[lo:hi]:
            yield self.events[uuid]

    def invitees_of(self, event_uuid: str) -> list[Resource]:
        """Invitees of one event in insertion (creation) order."""
        return [self.invitees[u] for u in self.invitees_by_event.get(event_uuid, [])]

    def user_of_token(self, token: str) -> Resource | None:
        """The user a personal access token belongs to, if any."""
        uuid = self.personal_access_tokens.get(token)
        return self.users.get(uuid) if uuid else None
