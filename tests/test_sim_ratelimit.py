"""Per-user rate limits of the simulator: headers on every response, 429, reset."""

from __future__ import annotations

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.rate_limit import RateLimiter

BASE = "https://api.calendly.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_040.0)  # 20 s into a window: 40 s until it resets


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    store = generate_organization(seed=7, size="tiny")
    return Simulator(store, SimConfig(requests_per_minute=5, monotonic=clock))


def client(sim: Simulator, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers)


def limit_headers(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


def test_remaining_counts_down_then_429_then_resets(sim: Simulator, clock: FakeClock) -> None:
    with client(sim, sim.admin_token) as admin:
        seen = [limit_headers(admin.get("/users/me")) for _ in range(5)]
        assert seen == [(5, 4, 40), (5, 3, 40), (5, 2, 40), (5, 1, 40), (5, 0, 40)]
        clock.now += 15.5
        refused = admin.get("/users/me")
        assert refused.status_code == 429
        assert refused.json() == {
            "title": "Too Many Requests",
            "message": "You have exceeded the rate limit. Please wait before making more requests.",
        }
        assert limit_headers(refused) == (5, 0, 25)  # ceil(24.5)
        clock.now += 24.5  # the next window starts
        again = admin.get("/users/me")
        assert again.status_code == 200
        assert limit_headers(again) == (5, 4, 60)


def test_limits_are_per_user(sim: Simulator) -> None:
    with client(sim, sim.admin_token) as admin, client(sim, sim.member_token) as member:
        for _ in range(5):
            assert admin.get("/users/me").status_code == 200
        assert admin.get("/users/me").status_code == 429
        response = member.get("/users/me")
        assert response.status_code == 200
        assert limit_headers(response)[1] == 4


def test_headers_on_every_kind_of_response(sim: Simulator) -> None:
    org = sim.store.organization["uri"]
    sim.register_oauth_client("app", "secret", "https://app.example/cb")
    with client(sim, sim.admin_token) as admin, client(sim, None) as anonymous:
        created = admin.post(
            "/webhook_subscriptions",
            json={"url": "https://h.example/x", "events": ["invitee.created"],
                  "organization": org, "scope": "organization"},
        )  # fmt: skip
        responses = {
            200: admin.get("/users/me"),
            201: created,
            204: admin.delete(f"/webhook_subscriptions/{created.json()['resource']['uri'][-36:]}"),
            400: admin.get("/scheduled_events"),
            401: anonymous.get("/users/me"),
            404: admin.get("/nope"),
            429: admin.get("/users/me"),
            302: anonymous.get("/oauth/authorize", params={"client_id": "app",
                               "response_type": "code", "redirect_uri": "https://app.example/cb"}),
        }  # fmt: skip
    for status, response in responses.items():
        assert response.status_code == status
        limit, remaining, reset = limit_headers(response)
        assert limit == 5
        assert 0 <= remaining <= 5
        assert 1 <= reset <= 60


def test_default_limit_is_500_and_free_plan_is_configurable() -> None:
    store = generate_organization(seed=7, size="tiny")
    with client(Simulator(store), store.admin_token) as paid:
        assert limit_headers(paid.get("/users/me"))[:2] == (500, 499)
    with client(Simulator(store, SimConfig(requests_per_minute=50)), store.admin_token) as free:
        assert limit_headers(free.get("/users/me"))[:2] == (50, 49)


def test_rate_limiter_windows_are_fixed() -> None:
    clock = FakeClock(59.0)
    limiter = RateLimiter(2, clock)
    assert [limiter.hit("u").allowed for _ in range(3)] == [True, True, False]
    assert limiter.peek("u").reset_seconds == 1
    clock.now = 60.0
    decision = limiter.hit("u")
    assert (decision.allowed, decision.remaining, decision.reset_seconds) == (True, 1, 60)
