"""The shared rate limiter: sliding window, X-RateLimit-* headers, 429 pauses.

Time is an injected clock that moves only when the limiter sleeps, so the
recorded acquisition times are exact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.calendly.helpers.auth import PersonalAccessTokenAuth
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.errors import ADVICE_SERVER, CalendlyServerError
from calendly_elt.calendly.helpers.rate_limit import RateLimiter, RequestCancelled

WINDOW = 60.0


def limiter_with_log(rpm: int, **kwargs: Any) -> tuple[RateLimiter, FakeClock, list[float]]:
    clock = FakeClock()
    acquired: list[float] = []
    limiter = RateLimiter(rpm, clock=clock, sleep=clock.sleep, on_acquire=acquired.append, **kwargs)
    return limiter, clock, acquired


def max_in_any_window(times: list[float]) -> int:
    """Most acquisitions inside any half-open 60 s window (t - 60, t] (float-tolerant)."""
    epsilon = 1e-6
    return max(sum(1 for other in times if t - WINDOW + epsilon < other <= t) for t in times)


def test_sliding_window_keeps_every_minute_under_the_limit() -> None:
    limiter, clock, acquired = limiter_with_log(50)
    for index in range(180):
        limiter.acquire()
        clock.tick(0.1 if index % 7 else 0.9)  # uneven work between requests
    assert len(acquired) == 180
    assert max_in_any_window(acquired) == 50
    assert acquired[50] == pytest.approx(acquired[0] + WINDOW)  # the 51st waits for the 1st
    # 180 requests at 50/min: the 151st waits for the 101st + 60 s; the 30 after it only
    # take their own work time (29 gaps of 0.1-0.9 s): no wait beyond what the limit needs
    assert acquired[150] == pytest.approx(acquired[100] + WINDOW)
    assert acquired[-1] - acquired[150] < 29 * 0.9


def test_concurrent_threads_share_one_budget() -> None:
    limiter, _clock, acquired = limiter_with_log(20)

    def worker() -> None:
        for _ in range(10):
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(acquired) == 80
    assert max_in_any_window(sorted(acquired)) <= 20
    assert max(acquired) >= 3 * WINDOW  # 80 requests at 20/min need at least 3 more windows


def test_remaining_zero_pauses_every_caller_until_reset() -> None:
    limiter, _clock, acquired = limiter_with_log(500)
    limiter.acquire()
    limiter.observe(
        {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}
    )
    limiter.acquire()
    assert acquired == [0.0, 12.0]
    assert limiter.total_wait == pytest.approx(12.0)


def test_remaining_above_the_reserve_does_not_pause() -> None:
    limiter, _clock, acquired = limiter_with_log(500, remaining_reserve=3)
    limiter.observe({"X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "30"})
    limiter.acquire()
    limiter.observe({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "30"})  # low: pause
    limiter.acquire()
    assert acquired == [0.0, 30.0]


def test_a_429_pauses_for_reset_capped_and_a_default_without_headers() -> None:
    limiter, _clock, acquired = limiter_with_log(500, max_wait=60.0)
    limiter.observe({"X-RateLimit-Reset": "3600"}, rate_limited=True)
    limiter.acquire()
    limiter.observe({}, rate_limited=True)
    limiter.acquire()
    limiter.observe({"Retry-After": "5"}, rate_limited=True)
    limiter.acquire()
    assert acquired == [60.0, 61.0, 66.0]


def test_a_lower_server_limit_lowers_the_window() -> None:
    limiter, _clock, acquired = limiter_with_log(500)
    limiter.observe(
        {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49", "X-RateLimit-Reset": "60"}
    )
    assert limiter.requests_per_minute == 50
    for _ in range(60):
        limiter.acquire()
    assert max_in_any_window(acquired) == 50


def test_a_higher_server_limit_raises_the_window_when_no_ceiling_is_set() -> None:
    limiter, _clock, acquired = limiter_with_log(500)
    limiter.observe({"X-RateLimit-Limit": "6000", "X-RateLimit-Remaining": "5999"})
    assert limiter.requests_per_minute == 6000
    for _ in range(6001):
        limiter.acquire()
    assert max_in_any_window(acquired) == 6000
    assert acquired[5999] == 0.0  # the first 6,000 went at once: 500 no longer holds them
    assert acquired[6000] == 60.0


def test_a_configured_ceiling_is_never_exceeded_but_a_lower_limit_is_followed() -> None:
    limiter, _clock, _acquired = limiter_with_log(500, ceiling=500)
    limiter.observe({"X-RateLimit-Limit": "6000"})
    assert limiter.requests_per_minute == 500
    limiter.observe({"X-RateLimit-Limit": "50"})
    assert limiter.requests_per_minute == 50
    limiter.observe({"X-RateLimit-Limit": "1000"})  # back up, to the ceiling only
    assert limiter.requests_per_minute == 500


def test_the_reserve_for_calls_in_flight_follows_the_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(500, clock=clock, sleep=clock.sleep, in_flight=8)
    # at 500/min 7 calls may be in flight when Remaining reaches 7: pause there
    limiter.observe(
        {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "9"}
    )
    limiter.acquire()
    assert clock.now == 9.0
    # on a free plan (50/min) a reserve of 7 would waste a seventh of the budget: it is 1
    limiter.observe(
        {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "5"}
    )
    limiter.acquire()
    assert clock.now == 9.0
    limiter.observe(
        {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "5"}
    )
    limiter.acquire()
    assert clock.now == 14.0


def test_unparseable_headers_are_ignored() -> None:
    limiter, _clock, acquired = limiter_with_log(500)
    limiter.observe({"X-RateLimit-Remaining": "soon", "X-RateLimit-Reset": "?"})
    limiter.acquire()
    assert acquired == [0.0]
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)


# --- cancelling (Ctrl-C, SIGTERM) -------------------------------------------------------


def test_a_cancel_during_a_limiter_wait_raises_at_once_and_nothing_is_sent_after() -> None:
    clock = FakeClock()
    acquired: list[float] = []

    def ctrl_c_during_the_wait(seconds: float) -> None:
        clock.sleep(1.0)  # a second into the minute's wait ...
        limiter.cancelled.set()  # ... the run is cancelled

    limiter = RateLimiter(1, clock=clock, sleep=ctrl_c_during_the_wait, on_acquire=acquired.append)
    limiter.acquire()  # the minute's budget
    with pytest.raises(RequestCancelled):
        limiter.acquire()
    assert clock.sleeps == [1.0]  # no second wait
    with pytest.raises(RequestCancelled):
        limiter.acquire()  # and no request once cancelled, even with budget left
    assert acquired == [0.0]
    assert isinstance(RequestCancelled(), KeyboardInterrupt)  # stops a run as Ctrl-C does


def test_a_thread_waiting_on_the_limiter_wakes_when_the_run_is_cancelled() -> None:
    clock = FakeClock()  # the limiter computes a 60 s wait; it waits on its cancel event
    limiter = RateLimiter(1, clock=clock)
    limiter.acquire()
    outcome: list[str] = []

    def worker() -> None:
        try:
            limiter.acquire()
            outcome.append("acquired")
        except RequestCancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    for _ in range(10_000):  # until the worker is (about to be) waiting
        if limiter.total_wait > 0:
            break
        thread.join(timeout=0.001)
    limiter.cancelled.set()
    thread.join(timeout=30)  # generous: a wait that ignored the event would last 60 s
    assert outcome == ["cancelled"]


def test_a_cancel_cuts_a_retry_backoff_short() -> None:
    clock = FakeClock()
    requests: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        requests.append(request.url.path)
        return httpx.Response(503, json={"title": "Service Unavailable", "message": "down"})

    client = CalendlyClient(
        "https://api.calendly.test",
        PersonalAccessTokenAuth("pat"),
        transport=httpx.MockTransport(unavailable),
        clock=clock,
        sleep=lambda seconds: client.cancel(),  # Ctrl-C during the first backoff
    )
    with pytest.raises(RequestCancelled):
        client.get("/users/me")
    assert requests == ["/users/me"]  # no retry after the cancel


def test_an_interrupt_while_waiting_for_results_stops_workers_waiting_on_the_limiter() -> None:
    clock = FakeClock()  # workers compute 60 s waits and wait on the client's cancel event
    server = CountingServer(clock, limit=1000)
    client = CalendlyClient(
        "https://api.calendly.test",
        PersonalAccessTokenAuth("pat"),
        transport=httpx.MockTransport(server),
        clock=clock,
        requests_per_minute=2,
        max_concurrency=4,
    )
    client.get("/event_types/a")
    client.get("/event_types/b")  # the minute's budget is spent: every worker will wait

    def fetch(n: int) -> dict[str, Any]:
        if n == 0:  # the main thread, waiting for this result, gets the KeyboardInterrupt
            raise KeyboardInterrupt
        return client.get(f"/event_types/{n}")

    outcome: list[type[BaseException]] = []

    def consume() -> None:
        try:
            list(client.map_concurrently(fetch, range(50)))
        except KeyboardInterrupt as error:
            outcome.append(type(error))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(timeout=30)  # generous: workers that ignored the cancel would wait 60 s each
    assert outcome == [KeyboardInterrupt]
    assert client.cancelled.is_set()
    assert len(server.times) == 2  # nothing was sent after the interrupt


# --- through the client -----------------------------------------------------------------


class CountingServer:
    """Answers every request; reports a per-minute budget like Calendly does."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.times: list[float] = []
        self.rejected = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            now = self.clock()
            recent = [t for t in self.times if now - WINDOW < t <= now]
            if len(recent) >= self.limit:
                self.rejected += 1
                reset = recent[0] + WINDOW - now
                return httpx.Response(
                    429,
                    json={"title": "Too Many Requests", "message": "limit"},
                    headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.3f}"},
                )
            self.times.append(now)
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - len(recent) - 1),
                "X-RateLimit-Reset": f"{(recent[0] + WINDOW - now) if recent else WINDOW:.3f}",
            }
        return httpx.Response(200, json={"resource": {}}, headers=headers)


def client_on(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock, **kwargs: Any
) -> CalendlyClient:
    return CalendlyClient(
        "https://api.calendly.test",
        PersonalAccessTokenAuth("pat"),
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )


def test_the_client_stays_under_its_configured_rate_without_429s() -> None:
    """Every request of four concurrent workers passes the limiter; the grants stay at 30/min.

    The rate is measured on the limiter's grants, not on the server's arrival times:
    with a fake clock, one worker's sleep can move time by a whole minute between
    another worker's grant and its send, a gap that lasts microseconds in real time.
    """
    clock = FakeClock()
    granted: list[float] = []
    limiter = RateLimiter(30, ceiling=30, clock=clock, sleep=clock.sleep, on_acquire=granted.append)
    server = CountingServer(clock, limit=1000)  # the server would allow more
    client = client_on(server, clock, rate_limiter=limiter, max_concurrency=4)
    list(client.map_concurrently(lambda n: client.get(f"/event_types/{n}"), range(100)))
    assert len(server.times) == 100
    assert len(granted) == 100  # no request bypassed the limiter
    assert max_in_any_window(granted) == 30
    assert granted[-1] >= 3 * WINDOW  # 100 requests at 30/min span at least three more minutes
    assert server.rejected == 0


def test_the_client_learns_a_free_plan_limit_from_headers_and_avoids_429s() -> None:
    clock = FakeClock()
    server = CountingServer(clock, limit=50)  # a free plan, though 500 is configured
    client = client_on(server, clock, requests_per_minute=500, max_concurrency=1)
    for n in range(120):
        client.get(f"/event_types/{n}")
    assert len(server.times) == 120
    assert max_in_any_window(server.times) <= 50
    assert server.rejected == 0
    assert client.rate_limiter.requests_per_minute == 50


def test_the_client_learns_a_higher_limit_when_none_is_configured() -> None:
    clock = FakeClock()
    server = CountingServer(clock, limit=2000)
    client = client_on(server, clock, requests_per_minute=None, max_concurrency=1)
    for n in range(1500):
        client.get(f"/event_types/{n}")
    assert client.rate_limiter.requests_per_minute == 2000
    assert server.times[-1] < WINDOW  # 1,500 in the first minute: 500 did not hold them back
    assert server.rejected == 0


# --- a 429 is a wait, not a failure -------------------------------------------------------


class ScriptedApi:
    """Answers each request with the next scripted answer (``200`` once the script ends)."""

    def __init__(self, clock: FakeClock, script: list[tuple[int, dict[str, str]]]) -> None:
        self.clock = clock
        self.script = list(script)
        self.arrivals: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append(self.clock())
        if self.script:
            status, headers = self.script.pop(0)
            return httpx.Response(status, json={"title": "x", "message": "y"}, headers=headers)
        return httpx.Response(200, json={"resource": {"ok": True}})


def test_a_lone_request_through_a_long_429_burst_waits_each_reset_and_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    burst = [(429, {"X-RateLimit-Reset": "4"})] * 12  # twice the 6 retries 5xx get
    api = ScriptedApi(clock, burst)
    client = client_on(api, clock, max_retries=6)
    caplog.set_level(logging.INFO, logger="calendly_elt")
    assert client.get("/users/me") == {"resource": {"ok": True}}
    assert api.arrivals == [4.0 * n for n in range(13)]  # each retry exactly at the reset
    waits = [r.getMessage() for r in caplog.records if "rate limited by Calendly" in r.message]
    assert len(waits) == 12
    about_429 = [record for record in caplog.records if "429" in record.message]
    assert {record.levelno for record in about_429} == {logging.INFO}
    assert waits[0] == (
        "GET /users/me: rate limited by Calendly (429); waiting 4.0 s (X-RateLimit-Reset)"
    )


def test_429s_do_not_use_up_the_5xx_retries_and_5xx_keep_their_own_advice() -> None:
    clock = FakeClock()
    unavailable = (503, {})
    limited = (429, {"X-RateLimit-Reset": "1"})
    script = [limited, unavailable, limited, limited, unavailable, limited, unavailable]
    client = client_on(ScriptedApi(clock, script), clock, max_retries=3)
    assert client.get("/users/me") == {"resource": {"ok": True}}  # 3 5xx: within 3 retries

    failing = client_on(ScriptedApi(clock, [limited, *[unavailable] * 5]), clock, max_retries=3)
    with pytest.raises(CalendlyServerError) as caught:
        failing.get("/users/me")
    assert "(after 3 retries)" in str(caught.value)
    assert caught.value.advice == ADVICE_SERVER
    assert "rate limit" not in str(caught.value)


def test_retry_after_then_a_doubling_default_when_no_reset_is_announced() -> None:
    clock = FakeClock()
    script = [(429, {"Retry-After": "9"}), (429, {}), (429, {}), (429, {"X-RateLimit-Reset": "0"})]
    api = ScriptedApi(clock, script)
    client = client_on(api, clock)
    client.get("/users/me")
    gaps = [later - earlier for earlier, later in zip(api.arrivals, api.arrivals[1:], strict=False)]
    assert gaps == [9.0, 2.0, 4.0, 1.0]  # Retry-After; 2 s, 4 s (3rd 429 in a row); floor 1 s


def test_a_429_pauses_the_other_threads_too() -> None:
    clock = FakeClock()
    api = ScriptedApi(clock, [(429, {"X-RateLimit-Reset": "30"})])
    client = client_on(api, clock, max_concurrency=1)
    client.get("/users/me")
    client.get("/users/me")  # a second request, after the first one's wait
    assert api.arrivals == [0.0, 30.0, 30.0]
    assert client.rate_limiter.total_wait == pytest.approx(30.0)
