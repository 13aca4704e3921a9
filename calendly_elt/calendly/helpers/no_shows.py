"""No-show rechecks: when the invitees of a meeting that ended are read again.

Marking a no-show (``POST /invitee_no_shows``) changes nothing on the event:
not its ``updated_at``, not its ``invitees_counter``. Fingerprints cannot see
it, so the invitees of meetings that ended recently are re-read whatever
their fingerprint says: those that ended at or after (last successful run -
``no_show_lookback_days``), up to now. Counted back from the last successful
run, so a skipped day loses no marks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class NoShowRecheck:
    """Which ended meetings get their invitees re-read for no-show marks.

    Attributes:
        ended_since: Meetings that ended at or after this instant (and by now) are due.
    """

    ended_since: datetime

    def due(self, event: Mapping[str, Any], now: datetime) -> bool:
        """Whether ``event`` is due a recheck at ``now`` (an event without an end always is)."""
        end_time = event.get("end_time")
        if not isinstance(end_time, datetime):
            return True
        return self.ended_since <= end_time <= now


def no_show_recheck(
    last_success_at: datetime | None, now: datetime, no_show_lookback_days: int
) -> NoShowRecheck:
    """The recheck of a run: meetings ended since (last successful run - lookback days)."""
    return NoShowRecheck((last_success_at or now) - timedelta(days=no_show_lookback_days))
