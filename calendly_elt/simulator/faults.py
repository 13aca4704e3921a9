"""Seeded fault injection: latency, 5xx, 429 bursts, dropped connections, slow responses.

Every fault is off by default. With a seed, the n-th request always meets the
same fault, so a test that configures faults sees them happen deterministically
(in request-arrival order). Faults are decided before a request is processed,
so a faulted request never changes state - exactly as a request lost in front
of the real API.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

SERVER_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class FaultConfig:
    """What can go wrong, and how often; all off by default.

    Attributes:
        seed: seed of the fault sequence.
        latency_mean_ms: mean added latency of every response.
        latency_jitter_ms: latency varies uniformly by +- this much.
        error_rate: probability of an injected 5xx.
        error_statuses: statuses an injected 5xx is drawn from.
        burst_every: after this many normal requests a 429 burst starts (0: never).
        burst_length: how many consecutive requests a burst answers with 429.
        burst_reset_seconds: ``X-RateLimit-Reset`` sent with a burst 429.
        drop_rate: probability that the connection closes without a response.
        slow_rate: probability of a slow response.
        slow_ms: extra delay of a slow response.
    """

    seed: int = 0
    latency_mean_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES
    burst_every: int = 0
    burst_length: int = 0
    burst_reset_seconds: int = 1
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0


@dataclass(frozen=True)
class Fault:
    """What happens to one request: a delay, and maybe a drop or a forced status."""

    delay_seconds: float = 0.0
    drop: bool = False
    status: int | None = None

    @property
    def is_clean(self) -> bool:
        """True when the request is processed normally (a delay aside)."""
        return not self.drop and self.status is None


class FaultInjector:
    """Draws the fault of each request from a seeded sequence."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._requests = 0
        self._lock = threading.Lock()

    def next_fault(self) -> Fault:
        """The fault of the next request (drawn under a lock, in arrival order)."""
        with self._lock:
            self._requests += 1
            # draw every random number every time, so one knob does not shift another
            latency = self._random.uniform(-1.0, 1.0)
            error_draw, error_pick = self._random.random(), self._random.random()
            drop_draw, slow_draw = self._random.random(), self._random.random()
            number = self._requests
        config = self.config
        delay_ms = max(config.latency_mean_ms + latency * config.latency_jitter_ms, 0.0)
        if slow_draw < config.slow_rate:
            delay_ms += config.slow_ms
        delay = delay_ms / 1000.0
        if drop_draw < config.drop_rate:
            return Fault(delay, drop=True)
        if self._in_burst(number):
            return Fault(delay, status=429)
        if error_draw < config.error_rate and config.error_statuses:
            statuses = config.error_statuses
            return Fault(delay, status=statuses[int(error_pick * len(statuses)) % len(statuses)])
        return Fault(delay)

    def _in_burst(self, number: int) -> bool:
        """Whether the ``number``-th request (1-based) falls inside a 429 burst.

        Requests run in cycles: ``burst_every`` answered normally, then
        ``burst_length`` answered with 429.
        """
        every, length = self.config.burst_every, self.config.burst_length
        if every <= 0 or length <= 0:
            return False
        return (number - 1) % (every + length) >= every
