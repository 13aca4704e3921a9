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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.loaded import as_utc, query_loaded
from calendly_elt.calendly.helpers.windows import Window

logger = logging.getLogger(__name__)

Fingerprint = tuple[Any, ...]

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


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """A live event as loaded: where it sits in time, its fingerprint, when its invitees were read.

    ``invitees_read_at`` is None for an event loaded before the column existed.
    """

    start_time: datetime
    end_time: datetime | None
    fingerprint: Fingerprint
    invitees_read_at: datetime | None = None


@dataclass
class KnownData:
    """Live events and invitees already in the destination."""

    events: dict[str, KnownEvent] = field(default_factory=dict)
    invitees_by_event: dict[str, set[str]] = field(default_factory=dict)

    def invitees_read_at(self, event_uri: str) -> datetime | None:
        """When the loaded event's invitees were last read (None: new, or not recorded)."""
        known = self.events.get(event_uri)
        return known.invitees_read_at if known else None

    def changed(self, event: Mapping[str, Any]) -> bool:
        """Whether an event is new or its fingerprint differs from the loaded one."""
        known = self.events.get(event["uri"])
        return known is None or known.fingerprint != fingerprint_of(event)

    def vanished_events(self, window: Window, listed: set[str]) -> list[str]:
        """Known live events starting in ``window`` that its full listing lacks."""
        return sorted(
            uri
            for uri, known in self.events.items()
            # a row loaded without a start (before quarantine existed) sits in no window
            if known.start_time is not None and window.contains(known.start_time)
            and uri not in listed
        )  # fmt: skip

    def invitees_of(self, event_uris: Iterable[str]) -> list[str]:
        """Known live invitees of the given events."""
        return sorted(uri for event in event_uris for uri in self.invitees_by_event.get(event, ()))

    def vanished_invitees(self, event_uri: str, listed: set[str]) -> list[str]:
        """Known live invitees of an event that its re-fetched invitee list lacks."""
        return sorted(self.invitees_by_event.get(event_uri, set()) - listed)


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
    for row in query_loaded(pipeline, "scheduled_events", _events_sql(pipeline)):
        uri, start, end, updated, status, total, active, read_at = row
        fingerprint = event_fingerprint(as_utc(updated), status, total, active)
        known.events[uri] = KnownEvent(as_utc(start), as_utc(end), fingerprint, as_utc(read_at))
    for uri, event in query_loaded(pipeline, "invitees", _INVITEES_SQL):
        known.invitees_by_event.setdefault(event, set()).add(uri)
    logger.info(
        "known: %d live events, %d with invitees", len(known.events), len(known.invitees_by_event)
    )
    return known
