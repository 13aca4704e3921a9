"""CalendlyClient and OAuthAuth against the Calendly simulator (in-process transport).

The key acceptance points of the client, repeated on the simulator: paging
every row once, identical data under injected 429 bursts / 5xx / dropped
connections, a learned free-plan rate limit, the org-admin 403 advice, and
OAuth (refresh during use, rotated token stored before use, a second run from
the store, one refresh for concurrent 401s, reuse rejected).

Time never really passes: one fake monotonic clock drives the simulator's
rate-limit windows and the client's limiter and backoff sleeps.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.calendly.helpers.auth import OAuthAuth, PersonalAccessTokenAuth, TokenStore
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.errors import (
    ADVICE_ORGANIZATION_SCOPE,
    CalendlyAuthError,
    CalendlyBadRequestError,
    CalendlyForbiddenError,
    CalendlyNotFoundError,
)
from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.faults import FaultConfig
from calendly_elt.simulator.store import Store, uuid_of

BASE = "https://api.calendly.com"
CLIENT_ID, CLIENT_SECRET = "elt-app", "elt-app-SECRET"
FAULTS_IN_RUN_AT_MOST = 40  # retry budget of the fault test: above the faults its seed injects


class StatusCounter(httpx.BaseTransport):
    """Wraps a transport and counts response statuses (and raised transport errors)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.statuses: Counter[int | str] = Counter()
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            with self.lock:
                self.statuses["dropped"] += 1
            raise
        with self.lock:
            self.statuses[response.status_code] += 1
        return response


def new_store(size: str = "tiny", seed: int = 11) -> Store:
    return generate_organization(seed=seed, size=size)


def pat_client(
    sim: Simulator, clock: FakeClock, token: str | None = None, **kwargs: Any
) -> tuple[CalendlyClient, StatusCounter]:
    transport = StatusCounter(sim.transport())
    client = CalendlyClient(
        BASE,
        PersonalAccessTokenAuth(token or sim.admin_token),
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )
    return client, transport


def extract(client: CalendlyClient, organization: str, count: int) -> dict[str, Any]:
    """Every event of the organization and every invitee of each (the N+1 the source does)."""
    params = {"organization": organization, "sort": "start_time:asc", "count": count}
    events = [row for page in client.paginate("/scheduled_events", params) for row in page]

    def invitees(event: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/scheduled_events/{uuid_of(event['uri'])}/invitees"
        return [row for page in client.paginate(path, {"count": count}) for row in page]

    by_event = {event["uri"]: rows for event, rows in client.map_concurrently(invitees, events)}
    return {"events": events, "invitees": by_event}


def quiet_sim(store: Store, clock: FakeClock, **config: Any) -> Simulator:
    return Simulator(store, SimConfig(monotonic=clock, apply_delays=False, **config))


def test_paging_on_the_simulator_returns_every_event_and_invitee_once() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    client, transport = pat_client(quiet_sim(store, clock), clock, max_concurrency=4)
    data = extract(client, store.organization["uri"], count=7)

    uris = [event["uri"] for event in data["events"]]
    assert len(uris) == len(set(uris)) == len(store.events)
    assert {uuid_of(uri) for uri in uris} == set(store.events)
    starts = [event["start_time"] for event in data["events"]]
    assert starts == sorted(starts)
    loaded_invitees = [row["uri"] for rows in data["invitees"].values() for row in rows]
    assert sorted(loaded_invitees) == sorted(invitee["uri"] for invitee in store.invitees.values())
    assert list(data["invitees"]) == uris  # map_concurrently kept the input order
    assert transport.statuses == Counter({200: client.request_count})


def test_faults_429_bursts_5xx_and_drops_end_with_the_clean_result() -> None:
    store = new_store()
    organization = store.organization["uri"]
    clean_clock = FakeClock(10_000.0)
    clean_client, _ = pat_client(quiet_sim(store, clean_clock), clean_clock)
    clean = extract(clean_client, organization, count=9)

    faults = FaultConfig(
        seed=5,
        error_rate=0.12,
        drop_rate=0.08,
        burst_every=15,
        burst_length=4,
        burst_reset_seconds=3,
    )
    clock = FakeClock(10_000.0)
    sim = quiet_sim(store, clock, faults=faults)
    # The seeded sequence faults 35 of this run's 91 arrivals, but which call meets which
    # fault depends on how the 8 workers interleave: with 8 retries, in ~1% of runs one call
    # met 9 of them and raised. A budget above every fault of the run cannot be exhausted.
    client, transport = pat_client(sim, clock, max_retries=FAULTS_IN_RUN_AT_MOST)
    faulty = extract(client, organization, count=9)

    assert faulty == clean
    assert transport.statuses[429] >= 4
    assert transport.statuses["dropped"] >= 1
    assert sum(transport.statuses[status] for status in (500, 502, 503)) >= 1
    retries = sum(n for status, n in transport.statuses.items() if status != 200)
    assert retries <= FAULTS_IN_RUN_AT_MOST
    assert client.request_count == clean_client.request_count + retries
    assert sim.stats.total == client.request_count
    # each burst paused the shared limiter for its X-RateLimit-Reset
    assert client.rate_limiter.total_wait >= 3 * (transport.statuses[429] // 4)


def test_a_free_plan_limit_is_learned_from_headers_without_429s() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    sim = quiet_sim(store, clock, requests_per_minute=50)
    client, transport = pat_client(sim, clock, requests_per_minute=500, max_concurrency=4)
    data = extract(client, store.organization["uri"], count=10)
    assert len(data["events"]) == len(store.events)
    assert client.request_count > 50  # more than one window was needed
    assert transport.statuses[429] == 0
    assert client.rate_limiter.requests_per_minute == 50
    assert clock.now - 10_000.0 >= 60.0  # it waited for the server's window instead


def test_member_token_on_organization_scope_gets_the_admin_advice() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    client, _ = pat_client(quiet_sim(store, clock), clock, token=store.member_token)
    with pytest.raises(CalendlyForbiddenError) as caught:
        client.get("/scheduled_events", {"organization": store.organization["uri"]})
    error = caught.value
    assert error.status == 403
    assert error.title == "Permission Denied"
    assert error.advice == ADVICE_ORGANIZATION_SCOPE
    assert str(error).endswith(f" - {ADVICE_ORGANIZATION_SCOPE}")
    assert store.member_token not in str(error)

    # scope=user works with the same token
    me = client.get("/users/me")["resource"]["uri"]
    rows = [r for p in client.paginate("/scheduled_events", {"user": me}) for r in p]
    assert rows and all(any(m["user"] == me for m in row["event_memberships"]) for row in rows)


def test_simulator_400_and_404_bodies_become_errors_with_details() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    client, _ = pat_client(quiet_sim(store, clock), clock)
    with pytest.raises(CalendlyBadRequestError) as bad:
        client.get("/scheduled_events", {"organization": store.organization["uri"], "count": 500})
    assert bad.value.status == 400
    assert bad.value.details and bad.value.details[0]["parameter"] == "count"
    assert "count:" in str(bad.value)
    with pytest.raises(CalendlyNotFoundError) as missing:
        client.get("/scheduled_events/NOPE")
    assert str(missing.value).endswith("the resource or plan feature is not available")


def test_an_expired_simulator_page_token_raises_the_restart_advice() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    sim = quiet_sim(store, clock, page_token_ttl=timedelta(minutes=10))
    client, _ = pat_client(sim, clock)
    pages = client.paginate(
        "/scheduled_events", {"organization": store.organization["uri"], "count": 5}
    )
    next(pages)
    store.clock.advance(timedelta(minutes=30))
    with pytest.raises(CalendlyBadRequestError) as caught:
        next(pages)
    assert caught.value.advice == "page token expired; the run restarts the window"


# --- OAuth on the simulator ---------------------------------------------------------------


class StoreCheckingTransport(httpx.BaseTransport):
    """Checks, the first time an access token is used on the API, that the token store
    already holds the refresh token issued with it. Optionally holds requests carrying
    a given stale token at a barrier, so that they all get their 401 together."""

    def __init__(self, sim: Simulator, store_path: Path) -> None:
        self.inner = sim.transport()
        self.store_path = store_path
        self.issued_with: dict[str, str] = {}
        self.seen: set[str] = set()
        self.violations: list[str] = []
        self.hold: tuple[str, threading.Barrier] | None = None
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            response = self.inner.handle_request(request)
            response.read()
            if response.status_code == 200:
                body = response.json()
                with self.lock:
                    self.issued_with[body["access_token"]] = body["refresh_token"]
            return response
        token = request.headers["Authorization"].removeprefix("Bearer ")
        with self.lock:
            first_use = token not in self.seen
            self.seen.add(token)
            if first_use and token in self.issued_with:
                stored = json.loads(self.store_path.read_text())["refresh_token"]
                if stored != self.issued_with[token]:
                    self.violations.append("stored after use")
        if self.hold is not None and token == self.hold[0]:
            self.hold[1].wait(timeout=5)
        return self.inner.handle_request(request)


@pytest.fixture
def oauth_setup(tmp_path: Path) -> tuple[Simulator, str, TokenStore]:
    store = new_store()
    sim = Simulator(store, SimConfig(apply_delays=False))
    sim.register_oauth_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/callback")
    user_uuid = store.personal_access_tokens[store.admin_token]
    refresh = sim.issue_oauth_tokens(user_uuid, CLIENT_ID)["refresh_token"]
    return sim, refresh, TokenStore(tmp_path / "tokens.json")


def oauth(
    sim: Simulator, refresh: str, token_store: TokenStore, transport: httpx.BaseTransport, **kw: Any
) -> OAuthAuth:
    options: dict[str, Any] = {"now": sim.clock.now, **kw}
    return OAuthAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        auth_base_url=BASE,
        token_store=token_store,
        transport=transport,
        sleep=lambda s: None,
        **options,
    )


def test_oauth_run_refreshes_during_use_and_a_second_run_uses_the_store(
    oauth_setup: tuple[Simulator, str, TokenStore],
) -> None:
    sim, configured_refresh, token_store = oauth_setup
    transport = StoreCheckingTransport(sim, token_store.path)
    auth = oauth(sim, configured_refresh, token_store, transport)
    client = CalendlyClient(BASE, auth, transport=transport, sleep=lambda s: None)
    me = client.get("/users/me")["resource"]["uri"]
    sim.clock.advance(timedelta(hours=1, minutes=57))  # the access token is about to expire
    assert client.get("/users/me")["resource"]["uri"] == me
    assert auth.refresh_count == 2
    assert transport.violations == []
    stored = token_store.load()
    assert stored is not None and stored["refresh_token"] != configured_refresh

    # a second run, same (now stale) configured refresh token, after the access token expired
    sim.clock.advance(timedelta(hours=3))
    second_transport = StoreCheckingTransport(sim, token_store.path)
    second = oauth(sim, configured_refresh, token_store, second_transport)
    with CalendlyClient(BASE, second, transport=second_transport, sleep=lambda s: None) as again:
        assert again.get("/users/me")["resource"]["uri"] == me
    assert second.refresh_count == 1
    assert second_transport.violations == []

    # whoever still uses the original refresh token is refused with a clear message
    stale = oauth(
        sim, configured_refresh, TokenStore(token_store.path.with_name("other.json")), transport
    )
    with pytest.raises(CalendlyAuthError) as caught:
        stale.authorization()
    assert caught.value.status == 400
    assert caught.value.title == "invalid_grant"
    assert "re-authorize the OAuth app" in str(caught.value)
    assert configured_refresh not in str(caught.value)


def test_oauth_eight_concurrent_401s_on_the_simulator_cause_one_refresh(
    oauth_setup: tuple[Simulator, str, TokenStore],
) -> None:
    sim, refresh, token_store = oauth_setup
    transport = StoreCheckingTransport(sim, token_store.path)
    frozen = sim.clock.now()  # the client's clock lags: it believes its token is still valid
    auth = oauth(sim, refresh, token_store, transport, now=lambda: frozen)
    client = CalendlyClient(
        BASE, auth, transport=transport, max_concurrency=8, sleep=lambda s: None
    )
    client.get("/users/me")
    stale = auth.authorization().removeprefix("Bearer ")
    sim.clock.advance(timedelta(hours=2, minutes=1))  # the simulator expired it
    transport.hold = (stale, threading.Barrier(8))

    results = list(client.map_concurrently(lambda n: client.get("/users/me"), range(8)))

    assert len(results) == 8
    assert auth.refresh_count == 2  # the first one, then exactly ONE for 8 concurrent 401s
    assert sim.stats["POST /oauth/token"] == 2
    assert transport.violations == []


def test_over_real_sockets_dropped_connections_are_retried_with_the_pool() -> None:
    store = new_store()
    clock = FakeClock(10_000.0)
    faults = FaultConfig(seed=2, drop_rate=0.15, error_rate=0.1)
    sim = quiet_sim(store, clock, faults=faults)
    with sim.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        client = CalendlyClient(
            base_url,
            PersonalAccessTokenAuth(sim.admin_token),
            max_concurrency=4,
            max_retries=20,  # above the 16 faults seed 2 injects here: no interleaving exhausts it
            timeout=5.0,
            sleep=clock.sleep,
            clock=clock,
        )
        with client:
            data = extract(client, store.organization["uri"], count=20)
    assert sorted(uuid_of(event["uri"]) for event in data["events"]) == sorted(store.events)
    loaded = sorted(row["uri"] for rows in data["invitees"].values() for row in rows)
    assert loaded == sorted(invitee["uri"] for invitee in store.invitees.values())
    assert sim.stats.total == client.request_count
    assert client.request_count > len(store.events) + 3  # retries happened
