"""Test doubles shared by the suite: one fake monotonic clock for every test.

The client, its rate limiter and the simulator's rate windows all take a
``clock``/``monotonic`` callable and a ``sleep``; handing them the same
``FakeClock`` makes time move only when code sleeps or a test ticks it.
"""

from __future__ import annotations

import threading


class FakeClock:
    """A thread-safe monotonic clock (seconds) that moves only by ``sleep``/``tick``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        """What the code under test calls instead of ``time.sleep``; recorded."""
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)

    def tick(self, seconds: float) -> None:
        """The test moves time forward (not recorded as a sleep)."""
        with self._lock:
            self.now += seconds
