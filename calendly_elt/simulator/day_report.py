"""What one simulated day did: counts by kind, and every change it made.

``simulate_day`` returns an ``ActivitySummary``: how many bookings, joins,
cancellations, reschedules, marks and unmarks the day made, the marks by
lateness bucket (``lateness.BUCKETS``), how many cancellations and reschedules
hit meetings far ahead, and ``changes``, one ``DayChange`` per change, so a
benchmark can check which of the day's changes a pipeline captured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

FAR_AHEAD = timedelta(days=30)  # beyond a typical incremental lookahead
BEYOND_HORIZON = timedelta(days=365)  # beyond the source's default horizon_days


@dataclass(frozen=True)
class DayChange:
    """One change of the day.

    Attributes:
        kind: ``book``, ``join``, ``cancel_invitee``, ``cancel_host``, ``reschedule``,
            ``mark`` or ``unmark``.
        event_uuid: The meeting changed (a reschedule: the old one).
        invitee_uuid: The invitee changed ("" for a host cancellation: all of them).
        lateness: A mark's lateness bucket after the meeting's end.
        ahead: A cancellation's or reschedule's meeting was ``far`` (> 30 days
            ahead), ``beyond_horizon`` (> 365 days) or ``near``.
        new_event_uuid: A reschedule's new meeting.
    """

    kind: str
    event_uuid: str
    invitee_uuid: str = ""
    lateness: str | None = None
    ahead: str | None = None
    new_event_uuid: str | None = None


def how_far_ahead(now: datetime, start: datetime) -> str:
    """``near``, ``far`` (> 30 days from ``now``) or ``beyond_horizon`` (> 365 days)."""
    if start - now > BEYOND_HORIZON:
        return "beyond_horizon"
    return "far" if start - now > FAR_AHEAD else "near"


@dataclass
class ActivitySummary:
    """How many of each change one simulated day made, and the changes themselves."""

    bookings: int = 0
    far_future_bookings: int = 0
    group_joins: int = 0
    invitee_cancels: int = 0
    host_cancels: int = 0
    reschedules: int = 0
    no_shows_marked: int = 0
    no_shows_unmarked: int = 0
    touched_events: int = 0
    far_ahead_changes: int = 0
    beyond_horizon_changes: int = 0
    pending_marks: int = 0
    no_shows_by_lateness: dict[str, int] = field(default_factory=dict)
    changes: list[DayChange] = field(default_factory=list)

    def record(self, change: DayChange) -> None:
        """Keep a change and count its lateness or how far ahead it was."""
        self.changes.append(change)
        if change.lateness is not None:
            by_bucket = self.no_shows_by_lateness
            by_bucket[change.lateness] = by_bucket.get(change.lateness, 0) + 1
        self.far_ahead_changes += change.ahead in ("far", "beyond_horizon")
        self.beyond_horizon_changes += change.ahead == "beyond_horizon"

    def as_dict(self) -> dict[str, object]:
        """The counts by kind (the changes themselves left out)."""
        counts = asdict(self)
        counts.pop("changes")
        return counts
