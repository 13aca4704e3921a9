"""Injected faults happen as configured, deterministically for a seed."""

from __future__ import annotations

import time

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.simulator import (
    FaultConfig,
    SimConfig,
    SimRequest,
    Simulator,
    generate_organization,
)

BASE = "https://api.calendly.com"


def make_sim(faults: FaultConfig, apply_delays: bool = True) -> Simulator:
    store = generate_organization(seed=7, size="tiny")
    # a frozen clock for the rate windows: on the real one, requests that straddle a
    # minute boundary are counted in two windows, so Remaining would depend on when they ran
    config = SimConfig(faults=faults, apply_delays=apply_delays, monotonic=FakeClock(0.0))
    return Simulator(store, config)


def me_request(sim: Simulator) -> SimRequest:
    return SimRequest("GET", "/users/me", headers={"authorization": f"Bearer {sim.admin_token}"})


def admin_client(sim: Simulator) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    return httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers)


def outcomes(sim: Simulator, n: int) -> list[tuple[int, bool, float]]:
    results = []
    for _ in range(n):
        response = sim.handle(me_request(sim))
        results.append((response.status, response.drop, round(response.delay_seconds, 6)))
    return results


def test_all_faults_are_off_by_default() -> None:
    sim = make_sim(FaultConfig())
    assert outcomes(sim, 200) == [(200, False, 0.0)] * 200


def test_same_seed_gives_the_same_faults_and_another_seed_differs() -> None:
    config = FaultConfig(seed=3, error_rate=0.2, drop_rate=0.1, latency_mean_ms=20,
                         latency_jitter_ms=10, slow_rate=0.1, slow_ms=500)  # fmt: skip
    first = outcomes(make_sim(config, apply_delays=False), 200)
    second = outcomes(make_sim(config, apply_delays=False), 200)
    assert first == second
    other_seed = FaultConfig(**{**config.__dict__, "seed": 4})
    assert outcomes(make_sim(other_seed, apply_delays=False), 200) != first
    statuses = [status for status, drop, _ in first if not drop]
    errors = [status for status in statuses if status >= 500]
    assert set(errors) == {500, 502, 503}
    assert 20 <= len(errors) <= 60  # about 20 % of ~180 answered requests
    drops = sum(drop for _, drop, _ in first)
    assert 8 <= drops <= 35
    delays = [delay for _, _, delay in first]
    assert all(0.010 <= d <= 0.030 or 0.510 <= d <= 0.530 for d in delays)
    assert 5 <= sum(d > 0.5 for d in delays) <= 40


def test_429_bursts_follow_the_configured_cycle() -> None:
    sim = make_sim(FaultConfig(burst_every=4, burst_length=2, burst_reset_seconds=2))
    with admin_client(sim) as client:
        responses = [client.get("/users/me") for _ in range(12)]
    assert [r.status_code for r in responses] == [200] * 4 + [429] * 2 + [200] * 4 + [429] * 2
    burst = responses[4]
    assert burst.json()["title"] == "Too Many Requests"
    assert burst.headers["X-RateLimit-Remaining"] == "0"
    assert burst.headers["X-RateLimit-Reset"] == "2"
    # burst 429s do not consume the user's real budget
    assert responses[6].headers["X-RateLimit-Remaining"] == "495"


def test_injected_5xx_do_not_change_state() -> None:
    sim = make_sim(FaultConfig(error_rate=1.0, error_statuses=(503,)))
    org = sim.store.organization["uri"]
    with admin_client(sim) as client:
        response = client.post(
            "/webhook_subscriptions",
            json={"url": "https://h.example/x", "events": ["invitee.created"],
                  "organization": org, "scope": "organization"},
        )  # fmt: skip
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/html"  # like a proxy in front of the API
    assert sim.store.webhook_subscriptions == {}


def test_dropped_connection_is_a_transport_error_in_process() -> None:
    sim = make_sim(FaultConfig(drop_rate=1.0))
    with (
        httpx.Client(transport=sim.transport(), base_url=BASE) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/users/me")
    assert sim.stats["GET /users/me"] == 1


def test_dropped_connection_really_closes_the_socket() -> None:
    sim = make_sim(FaultConfig(seed=1, drop_rate=0.5))
    failures = 0
    with (
        sim.serve() as base_url,
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {sim.admin_token}"}
        ) as client,
    ):
        for _ in range(20):
            try:
                assert client.get("/users/me").status_code == 200
            except httpx.TransportError:
                failures += 1
    assert failures == sum(drop for _, drop, _ in outcomes(make_sim(sim.config.faults), 20))
    assert 0 < failures < 20


def test_latency_is_applied_over_the_transport() -> None:
    sim = make_sim(FaultConfig(latency_mean_ms=40))
    with admin_client(sim) as client:
        started = time.perf_counter()
        for _ in range(3):
            assert client.get("/users/me").status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.12
