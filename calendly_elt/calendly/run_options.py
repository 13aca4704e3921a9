"""What one invocation of the source asks for, beyond the settings.

:class:`CalendlySettings` (``config.py``) is the configuration a user writes
down; :class:`RunOptions` is what a command decides for one run: a full
refresh, a ``--since`` backfill, where to checkpoint, the clock and a
progress callback. Both are passed to ``calendly_source`` as objects, and
every resource is built from :class:`SourceInputs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from calendly_elt.calendly.config import CalendlySettings
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.reach import Reach
from calendly_elt.calendly.helpers.windows import Window


def wall_clock() -> datetime:
    """Now, in UTC: the default clock of a run."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class WindowProgress:
    """Progress after each window, for a progress display.

    Attributes:
        kind: The run kind (``backfill``, ``incremental``, ...).
        window: The window just read.
        windows_done: Windows of the run committed or read so far.
        windows_total: Windows the run reads in all.
        events: Events read by the run so far.
        invitee_calls: Events whose invitees were fetched so far.
        requests: HTTP requests sent by the client so far.
    """

    kind: str
    window: Window
    windows_done: int
    windows_total: int
    events: int
    invitee_calls: int
    requests: int


@dataclass(frozen=True)
class RunOptions:
    """How one extraction reads.

    Attributes:
        full_refresh: Re-read every window from the backfill start and every
            event's invitees.
        since: Re-read every window (and invitee) from this instant on.
        checkpoint_events: Stop the extraction after the window in which this
            many events accumulated (the runner then loads the package and
            calls the source again); None reads the whole run at once.
        checkpoint_seconds: Stop it too after the window that ends this many
            seconds after the extraction (re)started, so a slow run keeps its
            work every minute or so; None: by event count only.
        now: The clock ("now" of windows and soft deletes).
        monotonic: The run's monotonic clock in seconds (checkpoint timing;
            a fake in tests).
        progress: Called after each window.
    """

    full_refresh: bool = False
    since: datetime | None = None
    checkpoint_events: int | None = None
    checkpoint_seconds: float | None = None
    now: Callable[[], datetime] = wall_clock
    monotonic: Callable[[], float] = time.monotonic
    progress: Callable[[WindowProgress], None] | None = None


class SourceInputs:
    """Everything a resource of one source instance is built from (never written to).

    The client (and the reach, which asks ``/users/me``) is built on first
    use, so resources that call no API (``webhook_events``) need no
    credentials.

    Attributes:
        settings: The resolved settings.
        options: What this run asks for.
    """

    def __init__(
        self,
        settings: CalendlySettings,
        options: RunOptions,
        client: Callable[[], CalendlyClient],
        reach: Reach | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self._client = client
        self._reach = reach

    @cached_property
    def client(self) -> CalendlyClient:
        """The HTTP client (shared by every resource and thread)."""
        return self._client()

    @cached_property
    def reach(self) -> Reach:
        """Which share of Calendly the run reads."""
        return self._reach or Reach(self.client, self.settings)
