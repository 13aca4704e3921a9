"""Window planning: which ``min_start_time``/``max_start_time`` ranges a run reads.

Calendly cannot list events by ``updated_at``: a change (cancellation,
reschedule, no-show mark) is only found by re-reading the events *by start
time*. A run therefore reads one contiguous range of start times, split into
half-open windows ``[start, end)`` of ``window_days``:

- first run (nothing loaded yet): ``start_date`` (default: two years before the
  first run) to now + ``horizon_days``;
- later runs: (last successful run - ``lookback_days``) to now + ``horizon_days``,
  reaching further back where a no-show recheck may be due (``no_shows.py``);
- ``--full-refresh``: from the backfill start to now + ``horizon_days``;
- ``backfill --since DATE``: from DATE to now + ``horizon_days``;
- every ``sweep_every_days`` (7), a sweep: from the backfill start, like a
  full refresh but reading invitees only where needed (:func:`sweep_due`).

Every run but ``backfill --since`` also reads one open window from the
horizon on (bookings made more than ``horizon_days`` ahead): a list of the
few events there, invitees only where new or changed.

:func:`plan_run` decides a new run's kind and range from what the caller asked
(:class:`RunRequest`) and what the dataset has seen (backfill start, last
successful run); ``checkpoints.py`` keeps the plan's progress in dlt state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calendly_elt.calendly.settings import DEFAULT_BACKFILL_YEARS
from calendly_elt.errors import ConfigError

# the end of the open window beyond the horizon that backfills and sweeps read
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open range of event start times, ``start <= start_time < end``."""

    start: datetime
    end: datetime

    def query(self) -> dict[str, str]:
        """The ``/scheduled_events`` query parameters selecting this window."""
        if self.end >= FAR_FUTURE:  # everything from start on
            return {"min_start_time": api_timestamp(self.start)}
        return {
            "min_start_time": api_timestamp(self.start),
            "max_start_time": api_timestamp(self.end),
        }

    def contains(self, moment: datetime) -> bool:
        """Whether an event starting at ``moment`` belongs to this window."""
        return self.start <= moment < self.end

    def __str__(self) -> str:
        end = "..." if self.end >= FAR_FUTURE else api_timestamp(self.end)
        return f"[{api_timestamp(self.start)}, {end})"


def api_timestamp(moment: datetime) -> str:
    """Calendly's query timestamp format: UTC with microseconds and a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_api_timestamp(text: str) -> datetime:
    """Parse a Calendly timestamp (``Z`` or offset) into an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def default_backfill_start(now: datetime) -> datetime:
    """Midnight UTC, two years before ``now``: where the first backfill starts."""
    moment = now.astimezone(UTC)
    try:
        earlier = moment.replace(year=moment.year - DEFAULT_BACKFILL_YEARS)
    except ValueError:  # 29 February
        earlier = moment.replace(year=moment.year - DEFAULT_BACKFILL_YEARS, day=28)
    return earlier.replace(hour=0, minute=0, second=0, microsecond=0)


def horizon_end(now: datetime, horizon_days: int) -> datetime:
    """The end of every run's range: ``now + horizon_days``."""
    return now.astimezone(UTC) + timedelta(days=horizon_days)


def incremental_start(last_success_at: datetime, lookback_days: int) -> datetime:
    """Where a later run starts re-reading: ``last successful run - lookback_days``."""
    return last_success_at.astimezone(UTC) - timedelta(days=lookback_days)


def split_windows(start: datetime, end: datetime, window_days: int) -> list[Window]:
    """Split ``[start, end)`` into consecutive windows of ``window_days`` (last one shorter).

    Args:
        start: First instant covered.
        end: First instant not covered.
        window_days: Length of a window in days (>= 1).

    Returns:
        The windows in ascending order; empty when ``end <= start``.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    step = timedelta(days=window_days)
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        windows.append(Window(cursor, min(cursor + step, end)))
        cursor += step
    return windows


def merge_ranges(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of half-open ranges, as sorted disjoint ranges (touching ones joined)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class RunRequest:
    """What the caller asked for: the settings that shape a run's range."""

    now: datetime
    start_date: datetime | None
    lookback_days: int
    horizon_days: int
    full_refresh: bool = False
    since: datetime | None = None
    recheck_reach: timedelta = timedelta(0)
    sweep_every_days: int = 0


@dataclass(frozen=True)
class RunPlan:
    """A new run's kind and range of start times.

    Attributes:
        kind: ``backfill`` (first run), ``incremental``, ``sweep``, ``full_refresh``
            or ``since``.
        range_start: First start time the run reads.
        range_end: The horizon: first start time of the range's last ordinary window.
        refetch_all: Re-fetch every event's invitees (full refresh, ``--since``).
        backfill_start: The dataset's backfill start after this run.
        beyond_horizon: Also read everything starting after the horizon, in one
            open window (every kind of run since incrementals read it too).
    """

    kind: str
    range_start: datetime
    range_end: datetime
    refetch_all: bool
    backfill_start: datetime
    beyond_horizon: bool = False


def plan_run(
    request: RunRequest,
    *,
    backfill_start: datetime | None,
    last_success_at: datetime | None,
    last_sweep_at: datetime | None = None,
) -> RunPlan:
    """Plan a new run (see the module docstring for the ranges).

    Args:
        request: What the caller asked for.
        backfill_start: The earliest start time any earlier run was asked to read.
        last_success_at: The "now" of the last run that read its whole range.
        last_sweep_at: The "now" of the last run that listed every window
            (backfill, sweep, full refresh).

    Raises:
        ConfigError: A first backfill would start beyond the horizon.
    """
    end = horizon_end(request.now, request.horizon_days)
    first = backfill_start or request.start_date or default_backfill_start(request.now)
    if request.since is not None:
        since = request.since
        return RunPlan("since", since, max(since, end), True, min(first, since), True)
    if request.full_refresh:
        return RunPlan("full_refresh", first, max(first, end), True, first, True)
    if last_success_at is None:
        _require_start_before(first, end)
        return RunPlan("backfill", first, end, False, first, True)
    if sweep_due(request, last_sweep_at or last_success_at):
        return RunPlan("sweep", first, max(first, end), False, first, True)
    lookback = incremental_start(last_success_at, request.lookback_days)
    start = max(first, min(lookback, last_success_at - request.recheck_reach))
    # the open window beyond the horizon too: one cheap list, and bookings made
    # more than horizon_days ahead (or changed there) arrive the next run, not the next sweep
    return RunPlan("incremental", start, max(start, end), False, first, True)


def sweep_due(request: RunRequest, last_sweep_at: datetime) -> bool:
    """Whether this run lists every window again (every ``sweep_every_days``; 0: never).

    A sweep finds what windows re-read by start time cannot: deletions and
    changes of meetings older than the lookback, and bookings beyond the
    horizon. Event lists are cheap (100 a request); invitees are read only
    where the fingerprint changed or a no-show recheck is due.
    """
    every = request.sweep_every_days
    return every > 0 and request.now - last_sweep_at >= timedelta(days=every)


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
