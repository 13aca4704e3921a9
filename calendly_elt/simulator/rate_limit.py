"""Per-user request limits in fixed 60-second windows, as Calendly enforces them.

Paid plans allow 500 requests per user per minute, the free plan 50. Every
response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (whole seconds until the window resets); a request past
the limit gets a 429. The clock is a monotonic seconds function that tests can
replace to step through windows without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from calendly_elt.simulator.store import SimulatorError

DEFAULT_REQUESTS_PER_MINUTE = 500
FREE_PLAN_REQUESTS_PER_MINUTE = 50
WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    """The outcome of counting one request against a user's window."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of the response."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


def too_many_requests() -> SimulatorError:
    """Calendly's 429 body."""
    return SimulatorError(
        429,
        "Too Many Requests",
        "You have exceeded the rate limit. Please wait before making more requests.",
    )


class RateLimiter:
    """Fixed-window counter per key (a user uuid).

    Args:
        limit: requests allowed per key per window.
        clock: monotonic seconds; windows start at multiples of 60 s of it.
        window_seconds: window length.
    """

    def __init__(
        self,
        limit: int = DEFAULT_REQUESTS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._window_seconds = window_seconds
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` and say whether it is allowed."""
        with self._lock:
            window, reset = self._current_window()
            start, used = self._windows.get(key, (window, 0))
            used = used + 1 if start == window else 1
            self._windows[key] = (window, used)
        return RateDecision(used <= self.limit, self.limit, max(self.limit - used, 0), reset)

    def peek(self, key: str) -> RateDecision:
        """The state of ``key``'s window without counting a request."""
        with self._lock:
            window, reset = self._current_window()
            start, used = self._windows.get(key, (window, 0))
        used = used if start == window else 0
        return RateDecision(used < self.limit, self.limit, max(self.limit - used, 0), reset)

    def reset(self) -> None:
        """Forget every window (a fresh minute for everyone)."""
        with self._lock:
            self._windows.clear()

    def _current_window(self) -> tuple[int, int]:
        """Index of the current window and whole seconds until it ends (>= 1)."""
        now = self._clock()
        window = math.floor(now / self._window_seconds)
        remaining = (window + 1) * self._window_seconds - now
        return window, max(math.ceil(remaining), 1)
