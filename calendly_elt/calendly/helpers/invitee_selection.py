"""Which events of a run get their invitees (re-)read: the N+1 calls worth making.

An event's invitees are read when the run re-reads everything (full refresh,
``backfill --since``), the event is new or its fingerprint changed
(``known_data.py``), or it is due a no-show recheck (``no_shows.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calendly_elt.calendly.helpers.known_data import KnownData
from calendly_elt.calendly.helpers.no_shows import NoShowRecheck


@dataclass(frozen=True)
class InviteeSelection:
    """The rule of one run.

    Attributes:
        known: What the destination holds.
        refetch_all: Read every event's invitees.
        recheck: The run's no-show recheck.
    """

    known: KnownData
    refetch_all: bool
    recheck: NoShowRecheck

    def wants(self, event: Mapping[str, Any], now: datetime) -> bool:
        """Whether to (re-)read ``event``'s invitees at ``now``."""
        if self.refetch_all or self.known.changed(event):
            return True
        return self.recheck.due(event, self.known.invitees_read_at(event["uri"]), now)
