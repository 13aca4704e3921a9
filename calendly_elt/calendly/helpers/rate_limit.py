"""A client-side rate limiter shared by every thread of a run.

Calendly allows 500 requests per user per minute on paid plans (50 on free
plans) and answers 429 beyond that. The limiter keeps a sliding window of the
last minute's requests and makes ``acquire`` wait while the window is full.
It also listens to Calendly's own accounting: every response carries
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(seconds until the window resets). When the remaining budget runs out (or a
429 arrives) every thread pauses until the reset. The limiter follows the
limit the server announces, down (a free plan) and up (a higher plan), so
``requests_per_minute`` need not be set by hand: it starts at 500 and takes
``X-RateLimit-Limit`` from the first response; a configured
``requests_per_minute`` is a ceiling it never goes above.

A 429 is Calendly asking us to wait, not a failure: the client waits for the
reset it announces (:func:`announced_wait`: ``X-RateLimit-Reset``, else
``Retry-After``, else a growing default) with every thread paused
(:meth:`RateLimiter.pause`), on a budget of time per request
(``rate_limit_wait_seconds``), not on the retry count of 5xx failures.

Every wait (here, and the client's and the token refresh's retry backoff) is
taken on a ``threading.Event`` shared by the run rather than ``time.sleep``:
setting it (Ctrl-C, SIGTERM) wakes every waiting thread at once, and they raise
:class:`RequestCancelled` instead of sending anything more.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
DEFAULT_PAUSE_AFTER_429 = 1.0
MIN_PAUSE_AFTER_429 = 1.0  # a reset of 0 s must not make a burst of immediate retries
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 900.0  # 15 minutes of 429s for one request: then fail
DEFAULT_REQUESTS_PER_MINUTE = 500  # Calendly's paid plans: where the limiter starts


class RequestCancelled(KeyboardInterrupt):
    """The run is being cancelled: a wait was cut short and no request is sent.

    A ``KeyboardInterrupt``, so that it stops the run as Ctrl-C does wherever it
    is raised (a worker thread, under dlt) and no ``except Exception`` retries it.
    """


def wait_unless_cancelled(
    seconds: float, cancel: threading.Event, sleep: Callable[[float], None] | None = None
) -> None:
    """Wait ``seconds``, or less if ``cancel`` is set meanwhile.

    Args:
        seconds: How long to wait.
        cancel: The run's cancel event; waiting on it wakes as soon as it is set.
        sleep: An injected sleep (tests' fake clocks) used instead of waiting on
            ``cancel``; ``cancel`` is still checked before and after it.

    Raises:
        RequestCancelled: ``cancel`` is (or became) set.
    """
    if cancel.is_set():
        raise RequestCancelled
    if sleep is None:
        cancel.wait(seconds)
    else:
        sleep(seconds)
    if cancel.is_set():
        raise RequestCancelled


class RateLimiter:
    """Sliding-window limiter (requests per minute) that also obeys ``X-RateLimit-*`` headers.

    Args:
        requests_per_minute: The limit to start at.
        ceiling: Never go above this, whatever the server announces (None: follow it).
        in_flight: Calls the caller runs at once: how low ``X-RateLimit-Remaining``
            may fall before pausing is derived from it and the current limit
            (room for the calls in flight); ``remaining_reserve`` fixes it instead.

    Attributes:
        requests_per_minute: The current limit (the server's announced one, under ``ceiling``).
        total_wait: Seconds spent waiting in ``acquire`` so far.
        cancelled: Set it to wake every waiting caller; they, and any later
            ``acquire``, raise :class:`RequestCancelled`.
    """

    def __init__(
        self,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        remaining_reserve: int = 0,
        in_flight: int | None = None,
        ceiling: int | None = None,
        max_wait: float = WINDOW_SECONDS,
        on_acquire: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.ceiling = ceiling
        self.requests_per_minute = min(requests_per_minute, ceiling or requests_per_minute)
        self.total_wait = 0.0
        self._clock = clock
        self._sleep = sleep
        self._in_flight = in_flight
        self._reserve = remaining_reserve
        self._set_reserve()
        self._max_wait = max_wait
        self._on_acquire = on_acquire
        self.cancelled = cancel if cancel is not None else threading.Event()
        self._sent: deque[float] = deque()
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more request may be sent, then count it.

        Raises:
            RequestCancelled: ``cancelled`` is set, before or during the wait.
        """
        while True:
            if self.cancelled.is_set():
                raise RequestCancelled
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._sent.append(now)
                    if self._on_acquire is not None:
                        self._on_acquire(now)
                    return
                self.total_wait += wait
            logger.debug("rate limiter: waiting %.2f s", wait)
            wait_unless_cancelled(wait, self.cancelled, self._sleep)

    def observe(self, headers: Mapping[str, str], *, rate_limited: bool = False) -> None:
        """Read a response's ``X-RateLimit-*`` headers.

        Args:
            headers: The response headers (case-insensitive mapping, e.g. httpx's).
            rate_limited: The response was a 429: pause until the reset even
                without a ``Remaining`` header (``Retry-After`` stands in for a
                missing ``X-RateLimit-Reset``).
        """
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        reset = _float_header(headers, "X-RateLimit-Reset")
        if reset is None and rate_limited:
            reset = _float_header(headers, "Retry-After")
        with self._lock:
            if limit is not None and limit > 0:
                self._follow(limit)
            exhausted = remaining is not None and remaining <= self._reserve
            if rate_limited or (exhausted and reset is not None):
                pause = reset if reset is not None else DEFAULT_PAUSE_AFTER_429
                self._pause(min(max(pause, 0.0), self._max_wait))

    def _follow(self, announced: int) -> None:
        """Take the server's limit (under the ceiling), logging a change once."""
        limit = min(announced, self.ceiling) if self.ceiling else announced
        if limit == self.requests_per_minute:
            return
        direction = "slowing down to" if limit < self.requests_per_minute else "speeding up to"
        logger.info("Calendly allows %d requests per minute; %s %d", announced, direction, limit)
        self.requests_per_minute = limit
        self._set_reserve()

    def _set_reserve(self) -> None:
        if self._in_flight is not None:
            self._reserve = max(0, min(self._in_flight, self.requests_per_minute // 20) - 1)

    def pause(self, seconds: float) -> None:
        """Hold every caller of ``acquire`` for ``seconds`` from now (a 429's announced reset).

        Unlike the pauses ``observe`` takes, not capped at ``max_wait``: the
        caller bounds it (the client, by its time budget).
        """
        with self._lock:
            self._pause(max(seconds, 0.0))

    def _pause(self, seconds: float) -> None:
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            logger.debug("rate limit budget spent; pausing %.2f s", seconds)

    def _wait_needed(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()
        if len(self._sent) >= self.requests_per_minute:
            oldest_counted = self._sent[len(self._sent) - self.requests_per_minute]
            return oldest_counted + WINDOW_SECONDS - now
        return 0.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _float_header(headers, name)
    return None if value is None else int(value)


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        raw = headers.get(name.lower())
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def announced_wait(headers: Mapping[str, str], consecutive: int) -> tuple[float, str]:
    """How long a 429 asks us to wait, and where that came from.

    Args:
        headers: The 429's headers.
        consecutive: How many 429s in a row this request met (1 for the first).

    Returns:
        ``(seconds, reason)``: ``X-RateLimit-Reset``, else ``Retry-After`` (in
        seconds), else a default doubling from 1 s to a minute; never under 1 s.
    """
    for name in ("X-RateLimit-Reset", "Retry-After"):
        seconds = _float_header(headers, name)
        if seconds is not None and seconds >= 0 and seconds == seconds:  # not nan
            return max(seconds, MIN_PAUSE_AFTER_429), name
    default = min(WINDOW_SECONDS, DEFAULT_PAUSE_AFTER_429 * 2 ** min(consecutive - 1, 10))
    return default, "no reset announced"


def jittered_backoff(failures: int, base: float, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**(failures-1))]``.

    The one backoff formula of the client and the OAuth token refresh; ``failures``
    counts from 1.
    """
    return random.uniform(0, min(cap, base * 2 ** (failures - 1)))
