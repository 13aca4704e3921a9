"""Sync state: run checkpoints, event fingerprints and soft-delete detection.

Two stores, each where it is cheapest and durable:

- **The run cursor** lives in dlt source state (``pipeline.state["sources"]
  ["calendly"]``): the backfill start, the last successful run, the run in
  progress (its range and ``next_start``, the first window not yet read),
  the ranges of start times ever read, a short run history, and deletions
  waiting to be applied. dlt commits the state with each load package, so a
  run that dies resumes at its last committed window.
- **Fingerprints** are read from the destination itself: the loaded
  ``scheduled_events`` rows carry ``updated_at``, ``status`` and
  ``invitees_counter`` (the fingerprint) and ``start_time`` (which window an
  event belongs to); ``invitees`` rows carry their ``event``. Keeping them in
  state would copy the whole table into every load package.

A fully re-read window whose listing lacks a known live event means the
event was deleted (data-compliance deletion): the event and its invitees are
marked ``is_deleted = true, deleted_at = now``. Likewise an invitee missing
from a re-fetched invitee list. dlt's merge replaces whole rows, so the marks
are applied by an ``UPDATE`` after the load (:func:`apply_pending_deletions`);
they wait in state until then, so a crash between load and update loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dlt.destinations.exceptions import DatabaseUndefinedRelation

from calendly_elt.calendly.helpers.windows import (
    Window,
    default_backfill_start,
    horizon_end,
    incremental_start,
    merge_ranges,
    split_windows,
)
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)

HISTORY_LENGTH = 20
DELETE_CHUNK = 500

Fingerprint = tuple[Any, ...]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


@dataclass
class RunCursor:
    """The run in progress: which range it reads and how far it got.

    Attributes:
        kind: ``backfill`` (first run), ``incremental``, ``full_refresh`` or ``since``.
        started_at: The run's "now" (becomes ``last_success_at`` when it completes).
        range_start: First start time the run reads.
        range_end: First start time it does not read.
        next_start: Start of the first window not yet committed (the checkpoint).
        refetch_all: Re-fetch every event's invitees (full refresh, backfill --since).
        windows_done: Windows committed so far.
        events: Events read so far.
        invitee_calls: Events whose invitees were fetched so far.
    """

    kind: str
    started_at: datetime
    range_start: datetime
    range_end: datetime
    next_start: datetime
    refetch_all: bool = False
    windows_done: int = 0
    events: int = 0
    invitee_calls: int = 0

    def remaining_windows(self, window_days: int) -> list[Window]:
        """The windows still to read, from the checkpoint to the end of the range."""
        return split_windows(self.next_start, self.range_end, window_days)

    def to_state(self) -> dict[str, Any]:
        """JSON-safe form for dlt state."""
        data = asdict(self)
        for key in ("started_at", "range_start", "range_end", "next_start"):
            data[key] = _iso(data[key])
        return data

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> RunCursor:
        """Rebuild from :meth:`to_state` output."""
        values = dict(data)
        for key in ("started_at", "range_start", "range_end", "next_start"):
            values[key] = _moment(values[key])
        return cls(**values)


@dataclass(frozen=True)
class RunRequest:
    """What the caller asked for: the settings that shape a run's range."""

    now: datetime
    start_date: datetime | None
    lookback_days: int
    horizon_days: int
    full_refresh: bool = False
    since: datetime | None = None


class SyncState:
    """Typed view over the source's dlt state dict (changes write through)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state

    @property
    def backfill_start(self) -> datetime | None:
        """Earliest start time any run was asked to read."""
        return _moment(self._state.get("backfill_start"))

    @property
    def last_success_at(self) -> datetime | None:
        """The "now" of the last run that read its whole range."""
        return _moment(self._state.get("last_success_at"))

    @property
    def run(self) -> RunCursor | None:
        """The run in progress (also one that crashed), if any."""
        data = self._state.get("run")
        return RunCursor.from_state(data) if data else None

    def save_run(self, cursor: RunCursor | None) -> None:
        """Persist the cursor (None: no run in progress)."""
        self._state["run"] = cursor.to_state() if cursor else None

    @property
    def covered(self) -> list[tuple[datetime, datetime]]:
        """Disjoint ranges of start times read at least once."""
        return [
            (_moment(start), _moment(end))  # type: ignore[misc]
            for start, end in self._state.get("covered", [])
        ]

    @property
    def history(self) -> list[dict[str, Any]]:
        """Summaries of the last completed runs, oldest first."""
        return list(self._state.get("history", []))

    def check_reach(self, reach: Mapping[str, str | None], full_refresh: bool) -> None:
        """Refuse to read a different share of Calendly into the same dataset.

        ``reach`` is what a run reads: scope, organization and (user scope) the
        token user. Its rows are compared with what the dataset holds, so a
        narrower read would mark everything it does not see as deleted. The
        first run records its reach; ``--full-refresh`` replaces the data (and
        the recorded reach) on purpose.

        Raises:
            ConfigError: The reach differs and no full refresh was asked for.
        """
        wanted = dict(reach)
        held = self._state.get("reach")
        if held and held != wanted:
            if not full_refresh:
                raise ConfigError(
                    f"this dataset holds {_describe_reach(held)}, but this run reads "
                    f"{_describe_reach(wanted)}; rows it cannot see would be marked deleted. "
                    "Load it into another --duckdb file or dataset, or pass --full-refresh "
                    "to replace the data with the new share"
                )
            logger.warning("full refresh: the dataset now holds %s", _describe_reach(wanted))
        self._state["reach"] = wanted

    def begin_run(self, request: RunRequest) -> RunCursor:
        """Resume the run in progress, or plan a new one.

        A crashed run is resumed from its checkpoint unless a full refresh or a
        ``--since`` backfill is asked for; its range is extended to the new
        horizon. A new run reads the first backfill, or the incremental range.
        """
        resumed = self.run
        if resumed and not (request.full_refresh or request.since):
            resumed.range_end = max(
                resumed.range_end, horizon_end(request.now, request.horizon_days)
            )
            logger.info("resuming the %s run from %s", resumed.kind, resumed.next_start)
            self.save_run(resumed)
            return resumed
        cursor = self._plan(request)
        self.save_run(cursor)
        return cursor

    def _plan(self, request: RunRequest) -> RunCursor:
        end = horizon_end(request.now, request.horizon_days)
        backfill_start = self.backfill_start or request.start_date
        backfill_start = backfill_start or default_backfill_start(request.now)
        kind, start, refetch_all = "incremental", backfill_start, False
        if request.since is not None:
            kind, start, refetch_all = "since", request.since, True
            backfill_start = min(backfill_start, request.since)
        elif request.full_refresh:
            kind, refetch_all = "full_refresh", True
        elif self.last_success_at is None:
            kind = "backfill"
            _require_start_before(backfill_start, end)
        else:
            start = max(
                backfill_start, incremental_start(self.last_success_at, request.lookback_days)
            )
        self._state["backfill_start"] = _iso(backfill_start)
        return RunCursor(kind, request.now, start, max(start, end), start, refetch_all)

    def complete_window(self, cursor: RunCursor, window: Window, events: int, calls: int) -> None:
        """Record a fully read window: advance the checkpoint and the covered ranges."""
        cursor.next_start = window.end
        cursor.windows_done += 1
        cursor.events += events
        cursor.invitee_calls += calls
        self.save_run(cursor)
        ranges = [*self.covered, (window.start, window.end)]
        self._state["covered"] = [[_iso(start), _iso(end)] for start, end in merge_ranges(ranges)]

    def finish_run(self, cursor: RunCursor, requests: int, finished_at: datetime) -> None:
        """Mark the run successful and append it to the history."""
        self._state["last_success_at"] = _iso(cursor.started_at)
        summary = {
            "kind": cursor.kind,
            "started_at": _iso(cursor.started_at),
            "finished_at": _iso(finished_at),
            "range_start": _iso(cursor.range_start),
            "range_end": _iso(cursor.range_end),
            "windows": cursor.windows_done,
            "events": cursor.events,
            "invitee_calls": cursor.invitee_calls,
            "requests": requests,
        }
        self._state["history"] = [*self.history, summary][-HISTORY_LENGTH:]
        self.save_run(None)

    @property
    def pending_deletions(self) -> dict[str, Any]:
        """Soft deletes found but not yet applied: ``{table: [uri, ...], "at": iso}``."""
        return dict(self._state.get("pending_deletions") or {})

    def clear_pending_deletions(self) -> None:
        """Forget applied deletions (they were applied after the previous load)."""
        self._state["pending_deletions"] = {}

    def add_deletions(self, table: str, uris: Iterable[str], at: datetime) -> None:
        """Queue ``uris`` of ``table`` to be marked deleted at ``at``."""
        uris = sorted(set(uris))
        if not uris:
            return
        pending = self.pending_deletions
        pending[table] = sorted({*pending.get(table, []), *uris})
        pending.setdefault("at", _iso(at))
        self._state["pending_deletions"] = pending


# ---- fingerprints -----------------------------------------------------------


def _describe_reach(reach: Mapping[str, Any]) -> str:
    if reach.get("scope") == "user":
        return f"scope=user data of {reach.get('user')}"
    return f"scope=organization data of {reach.get('organization')}"


def _require_start_before(start: datetime, end: datetime) -> None:
    """Refuse a first backfill whose start lies beyond the horizon (nothing to read).

    Raises:
        ConfigError: ``start_date`` is at or after now + ``horizon_days``.
    """
    if start >= end:
        raise ConfigError(
            f"start_date {start:%Y-%m-%d} is after now + horizon_days ({end:%Y-%m-%d}): "
            "nothing to read; set an earlier start_date"
        )


def event_fingerprint(
    updated_at: Any, status: Any, invitees_total: Any, invitees_active: Any
) -> Fingerprint:
    """What must change for an event's invitees to be worth re-fetching."""
    moment = updated_at.astimezone(UTC) if isinstance(updated_at, datetime) else updated_at
    total = int(invitees_total) if invitees_total is not None else None
    active = int(invitees_active) if invitees_active is not None else None
    return (moment, status, total, active)


def fingerprint_of(event: Mapping[str, Any]) -> Fingerprint:
    """Fingerprint of an event row as extracted (timestamps already datetimes)."""
    counter = event.get("invitees_counter") or {}
    return event_fingerprint(
        event.get("updated_at"), event.get("status"), counter.get("total"), counter.get("active")
    )


@dataclass(frozen=True)
class KnownEvent:
    """A live event as loaded: where it sits in time and its fingerprint."""

    start_time: datetime
    end_time: datetime | None
    fingerprint: Fingerprint


@dataclass
class KnownData:
    """Live events and invitees already in the destination."""

    events: dict[str, KnownEvent] = field(default_factory=dict)
    invitees_by_event: dict[str, set[str]] = field(default_factory=dict)

    def needs_invitees(
        self, event: Mapping[str, Any], *, refetch_all: bool, ended_since: datetime, now: datetime
    ) -> bool:
        """Whether to (re-)fetch an event's invitees.

        Yes if the run re-fetches everything, the event is new, its
        fingerprint changed, or it ended in ``[ended_since, now]`` (a no-show
        mark changes nothing on the event).
        """
        known = self.events.get(event["uri"])
        if refetch_all or known is None or known.fingerprint != fingerprint_of(event):
            return True
        end_time = event.get("end_time")
        if not isinstance(end_time, datetime):
            return True
        return ended_since <= end_time <= now

    def vanished_events(self, window: Window, listed: set[str]) -> list[str]:
        """Known live events starting in ``window`` that its full listing lacks."""
        return sorted(
            uri
            for uri, known in self.events.items()
            if window.contains(known.start_time) and uri not in listed
        )

    def invitees_of(self, event_uris: Iterable[str]) -> list[str]:
        """Known live invitees of the given events."""
        return sorted(uri for event in event_uris for uri in self.invitees_by_event.get(event, ()))

    def vanished_invitees(self, event_uri: str, listed: set[str]) -> list[str]:
        """Known live invitees of an event that its re-fetched invitee list lacks."""
        return sorted(self.invitees_by_event.get(event_uri, set()) - listed)


_EVENTS_SQL = (
    "select uri, start_time, end_time, updated_at, status, invitees_counter__total,"
    " invitees_counter__active from {table} where is_deleted is not true"
)
_INVITEES_SQL = "select uri, event from {table} where is_deleted is not true"


def read_known_data(pipeline: Any) -> KnownData:
    """Read live events' fingerprints and invitees from the pipeline's destination.

    Args:
        pipeline: The dlt pipeline (its destination may not exist yet).

    Returns:
        What is loaded; empty when nothing is (first run, or no destination).
    """
    known = KnownData()
    for row in _query_rows(pipeline, "scheduled_events", _EVENTS_SQL):
        uri, start, end, updated, status, total, active = row
        known.events[uri] = KnownEvent(
            _utc(start), _utc(end), event_fingerprint(_utc(updated), status, total, active)
        )
    for uri, event in _query_rows(pipeline, "invitees", _INVITEES_SQL):
        known.invitees_by_event.setdefault(event, set()).add(uri)
    logger.info(
        "known: %d live events, %d with invitees", len(known.events), len(known.invitees_by_event)
    )
    return known


def no_show_recheck_start(
    last_success_at: datetime | None, now: datetime, no_show_lookback_days: int
) -> datetime:
    """Meetings ending at or after this instant get their invitees re-read (no-show marks).

    Counted back from the last successful run, so a skipped day loses no marks.
    """
    return (last_success_at or now) - timedelta(days=no_show_lookback_days)


def read_loaded_uris(pipeline: Any, table: str) -> set[str]:
    """URIs of the rows of ``table`` already loaded."""
    return {row[0] for row in _query_rows(pipeline, table, "select uri from {table}")}


def read_loaded_hosts(pipeline: Any) -> set[str]:
    """URIs of every user who hosts a loaded event (people who left the org included)."""
    sql = "select distinct {table}.user from {table}"
    rows = _query_rows(pipeline, "scheduled_events__event_memberships", sql)
    return {row[0] for row in rows if row[0]}


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _query_rows(pipeline: Any, table: str, sql: str) -> list[tuple[Any, ...]]:
    if not _has_loaded_table(pipeline, table):
        return []
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table)
            with client.execute_query(sql.format(table=qualified)) as cursor:
                return [tuple(row) for row in cursor.fetchall()]
    except DatabaseUndefinedRelation:  # declared in the schema, not loaded yet
        return []


def _has_loaded_table(pipeline: Any, table: str) -> bool:
    if pipeline.destination is None or not pipeline.default_schema_name:
        return False
    schema = pipeline.default_schema
    return table in schema.tables and bool(schema.tables[table].get("columns"))


def apply_pending_deletions(pipeline: Any) -> int:
    """Mark the deletions waiting in state as ``is_deleted`` in the destination.

    Idempotent: rows already marked keep their first ``deleted_at``. Call it
    after every load of the Calendly source.

    Args:
        pipeline: The dlt pipeline that loaded the source.

    Returns:
        How many URIs were queued (marked now or before).
    """
    source_state = pipeline.state.get("sources", {}).get("calendly", {})
    pending = SyncState(source_state).pending_deletions
    deleted_at = pending.pop("at", None)
    marked = 0
    for table, uris in pending.items():
        if uris and _has_loaded_table(pipeline, table):
            _mark_deleted(pipeline, table, list(uris), _moment(deleted_at))
            marked += len(uris)
    if marked:
        logger.info("marked %d vanished rows as deleted", marked)
    return marked


def _mark_deleted(pipeline: Any, table: str, uris: list[str], at: datetime | None) -> None:
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        for offset in range(0, len(uris), DELETE_CHUNK):
            chunk = uris[offset : offset + DELETE_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            client.execute_sql(
                f"update {qualified} set is_deleted = true, deleted_at = %s"
                f" where uri in ({marks}) and is_deleted is not true",
                at,
                *chunk,
            )
