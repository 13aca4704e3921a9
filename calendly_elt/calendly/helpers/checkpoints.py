"""Checkpoints: the run cursor and what the dataset has seen, in dlt source state.

The source's dlt state (``pipeline.state["sources"]["calendly"]``) holds the
backfill start, the last successful run, the run in progress (its range and
``next_start``, the first window not yet read), the ranges of start times
ever read, a short run history, the reach of the dataset, and the pending
soft deletes (``soft_deletes.py``). dlt commits the state with each load
package, so a run that dies resumes at its last committed window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.windows import (
    FAR_FUTURE,
    RunRequest,
    Window,
    horizon_end,
    merge_ranges,
    plan_run,
    split_windows,
)
from calendly_elt.calendly.settings import SOURCE_NAME
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)

HISTORY_LENGTH = 20
# the kinds of run that list every window from the backfill start: they reset the sweep clock
LISTS_EVERY_WINDOW = frozenset({"backfill", "sweep", "full_refresh"})
_MOMENTS = ("started_at", "range_start", "range_end", "next_start")


def iso(value: datetime | None) -> str | None:
    """A state timestamp: ISO 8601 in UTC (None stays None)."""
    return value.astimezone(UTC).isoformat() if value else None


def moment(text: str | None) -> datetime | None:
    """The datetime of a state timestamp written by :func:`iso`."""
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def source_state_of(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The Calendly source's state dict of a pipeline (read outside an extraction)."""
    return pipeline.state.get("sources", {}).get(SOURCE_NAME, {})  # type: ignore[no-any-return]


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
        beyond_horizon: The run also reads one open window from the horizon on.
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
    beyond_horizon: bool = False

    def remaining_windows(self, window_days: int) -> list[Window]:
        """The windows still to read, from the checkpoint to the end of the range.

        With ``beyond_horizon``, the last is one open window from the horizon on.
        """
        windows = split_windows(self.next_start, self.range_end, window_days)
        if self.beyond_horizon and self.next_start <= self.range_end:
            windows.append(Window(max(self.next_start, self.range_end), FAR_FUTURE))
        return windows

    @property
    def done(self) -> bool:
        """Whether every window of the run has been read."""
        end = FAR_FUTURE if self.beyond_horizon else self.range_end
        return self.next_start >= end

    def to_state(self) -> dict[str, Any]:
        """JSON-safe form for dlt state."""
        data = asdict(self)
        for key in _MOMENTS:
            data[key] = iso(data[key])
        return data

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> RunCursor:
        """Rebuild from :meth:`to_state` output."""
        values = dict(data)
        for key in _MOMENTS:
            values[key] = moment(values[key])
        return cls(**values)


class SyncState:
    """Typed view over the source's dlt state dict (changes write through)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state

    @property
    def backfill_start(self) -> datetime | None:
        """Earliest start time any run was asked to read."""
        return moment(self._state.get("backfill_start"))

    @property
    def last_success_at(self) -> datetime | None:
        """The "now" of the last run that read its whole range."""
        return moment(self._state.get("last_success_at"))

    @property
    def last_sweep_at(self) -> datetime | None:
        """The "now" of the last run that listed every window (backfill, sweep, full refresh)."""
        return moment(self._state.get("last_sweep_at"))

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
            (moment(start), moment(end))  # type: ignore[misc]
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
        """Resume the run in progress, or plan a new one (``windows.plan_run``).

        A crashed run is resumed from its checkpoint unless a full refresh or a
        ``--since`` backfill is asked for; its range is extended to the new
        horizon.
        """
        resumed = self.run
        if resumed and not (request.full_refresh or request.since):
            resumed.range_end = max(
                resumed.range_end, horizon_end(request.now, request.horizon_days)
            )
            logger.info("resuming the %s run from %s", resumed.kind, resumed.next_start)
            self.save_run(resumed)
            return resumed
        plan = plan_run(
            request,
            backfill_start=self.backfill_start,
            last_success_at=self.last_success_at,
            last_sweep_at=self.last_sweep_at,
        )
        self._state["backfill_start"] = iso(plan.backfill_start)
        cursor = RunCursor(
            plan.kind, request.now, plan.range_start, plan.range_end, plan.range_start,
            plan.refetch_all, beyond_horizon=plan.beyond_horizon,
        )  # fmt: skip
        self.save_run(cursor)
        return cursor

    def complete_window(self, cursor: RunCursor, window: Window, events: int, calls: int) -> None:
        """Record a fully read window: advance the checkpoint and the covered ranges."""
        cursor.next_start = window.end
        cursor.windows_done += 1
        cursor.events += events
        cursor.invitee_calls += calls
        self.save_run(cursor)
        ranges = [*self.covered, (window.start, window.end)]
        self._state["covered"] = [[iso(start), iso(end)] for start, end in merge_ranges(ranges)]

    def finish_run(self, cursor: RunCursor, requests: int, finished_at: datetime) -> None:
        """Mark the run successful and append it to the history."""
        self._state["last_success_at"] = iso(cursor.started_at)
        if cursor.kind in LISTS_EVERY_WINDOW:
            self._state["last_sweep_at"] = iso(cursor.started_at)
        summary = {
            "kind": cursor.kind,
            "started_at": iso(cursor.started_at),
            "finished_at": iso(finished_at),
            "range_start": iso(cursor.range_start),
            "range_end": iso(cursor.range_end),
            "windows": cursor.windows_done,
            "events": cursor.events,
            "invitee_calls": cursor.invitee_calls,
            "requests": requests,
        }
        self._state["history"] = [*self.history, summary][-HISTORY_LENGTH:]
        self.save_run(None)


def _describe_reach(reach: Mapping[str, Any]) -> str:
    if reach.get("scope") == "user":
        return f"scope=user data of {reach.get('user')}"
    return f"scope=organization data of {reach.get('organization')}"
