"""OAuth on the simulator: code + PKCE, 2-hour tokens, rotating refresh tokens, 8/min."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.store import uri_of

BASE = "https://api.calendly.com"
CLIENT_ID, CLIENT_SECRET, REDIRECT = "my-app", "s3cret", "https://app.example/callback"
VERIFIER = "a-high-entropy-code-verifier-of-at-least-43-characters-xyz"


@pytest.fixture
def monotonic() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(monotonic: FakeClock) -> Simulator:
    simulator = Simulator(
        generate_organization(seed=7, size="tiny"), SimConfig(monotonic=monotonic)
    )
    simulator.register_oauth_client(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    return simulator


@pytest.fixture
def http(sim: Simulator) -> httpx.Client:
    return httpx.Client(transport=sim.transport(), base_url=BASE)


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def authorize(http: httpx.Client, **extra: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
        "state": "xyz",
        **extra,
    }
    response = http.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(http: httpx.Client, code: str, verifier: str = VERIFIER) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier, "client_id": CLIENT_ID},
    )  # fmt: skip


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(CLIENT_ID, CLIENT_SECRET),  # HTTP Basic client credentials
    )


def me(http: httpx.Client, access_token: str) -> httpx.Response:
    return http.get("/users/me", headers={"Authorization": f"Bearer {access_token}"})


def test_code_pkce_token_refresh_and_reused_refresh_rejected(
    sim: Simulator, http: httpx.Client
) -> None:
    admin_uuid = sim.store.personal_access_tokens[sim.admin_token]
    response = exchange(http, authorize(http))
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 7200
    assert tokens["owner"] == uri_of("users", admin_uuid)
    assert tokens["organization"] == sim.store.organization["uri"]
    assert tokens["created_at"] == int(sim.clock.now().timestamp())
    assert set(tokens) >= {"access_token", "refresh_token", "scope"}
    assert me(http, tokens["access_token"]).json()["resource"]["uri"] == tokens["owner"]

    rotated = refresh(http, tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert me(http, new["access_token"]).status_code == 200

    reused = refresh(http, tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"]
    assert refresh(http, new["refresh_token"]).status_code == 200


def test_access_token_expires_after_two_hours_of_sim_time(
    sim: Simulator, http: httpx.Client
) -> None:
    tokens = exchange(http, authorize(http)).json()
    sim.clock.advance(timedelta(hours=1, minutes=59))
    assert me(http, tokens["access_token"]).status_code == 200
    sim.clock.advance(timedelta(minutes=1))
    expired = me(http, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"title": "Unauthenticated", "message": "The access token expired"}
    assert int(expired.headers["X-RateLimit-Limit"]) == 500
    # the refresh token still works after the access token expired
    assert (
        me(http, refresh(http, tokens["refresh_token"]).json()["access_token"]).status_code == 200
    )


def test_expire_access_tokens_ends_every_access_token_now_but_not_the_refresh(
    sim: Simulator, http: httpx.Client
) -> None:
    tokens = exchange(http, authorize(http)).json()
    assert sim.auth.expire_access_tokens() == 1  # what the soak does in the middle of a run
    expired = me(http, tokens["access_token"])
    assert expired.json() == {"title": "Unauthenticated", "message": "The access token expired"}
    fresh = refresh(http, tokens["refresh_token"]).json()["access_token"]
    assert me(http, fresh).status_code == 200


def test_unknown_token_is_401_with_the_real_body(http: httpx.Client) -> None:
    for headers in ({"Authorization": "Bearer not-a-token"}, {}, {"Authorization": "Basic abc"}):
        response = http.get("/users/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "title": "Unauthenticated",
            "message": "The access token is invalid",
        }


def test_eight_token_requests_per_user_per_minute(
    sim: Simulator, http: httpx.Client, monotonic: FakeClock
) -> None:
    current = exchange(http, authorize(http)).json()["refresh_token"]  # request 1
    for _ in range(7):  # requests 2..8
        response = refresh(http, current)
        assert response.status_code == 200
        current = response.json()["refresh_token"]
    refused = refresh(http, current)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    monotonic.now += 60
    # the refused request did not consume the refresh token
    assert refresh(http, current).status_code == 200


def test_token_limit_is_per_user(sim: Simulator, http: httpx.Client) -> None:
    admin_uuid = sim.store.personal_access_tokens[sim.admin_token]
    member_uuid = sim.store.personal_access_tokens[sim.member_token]
    for _ in range(8):
        refresh(http, sim.issue_oauth_tokens(admin_uuid, CLIENT_ID)["refresh_token"])
    assert (
        refresh(http, sim.issue_oauth_tokens(admin_uuid, CLIENT_ID)["refresh_token"]).status_code
        == 429
    )
    assert (
        refresh(http, sim.issue_oauth_tokens(member_uuid, CLIENT_ID)["refresh_token"]).status_code
        == 200
    )


def test_authorize_impersonates_the_requested_user(sim: Simulator, http: httpx.Client) -> None:
    member_uuid = sim.store.personal_access_tokens[sim.member_token]
    tokens = exchange(http, authorize(http, user=member_uuid)).json()
    assert tokens["owner"] == uri_of("users", member_uuid)
    body = me(http, tokens["access_token"]).json()
    assert body["resource"]["uri"] == uri_of("users", member_uuid)


def test_bad_grants_are_invalid_grant(http: httpx.Client) -> None:
    code = authorize(http)
    wrong_verifier = exchange(http, code, verifier="not-the-verifier-" * 3)
    assert (wrong_verifier.status_code, wrong_verifier.json()["error"]) == (400, "invalid_grant")
    assert exchange(http, code).status_code == 200
    reused_code = exchange(http, code)
    assert (reused_code.status_code, reused_code.json()["error"]) == (400, "invalid_grant")
    unknown = refresh(http, "never-issued")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


def test_client_authentication(http: httpx.Client) -> None:
    bad_secret = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": CLIENT_ID,
              "client_secret": "wrong"},
    )  # fmt: skip
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")
    # a confidential client may skip PKCE and send its secret in the body
    response = http.get(
        "/oauth/authorize",
        params={"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT},
    )
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    tokens = http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )  # fmt: skip
    assert tokens.status_code == 200
    mismatch = http.get(
        "/oauth/authorize",
        params={"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": "https://evil"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "invalid_request"


def test_issue_oauth_tokens_helper(sim: Simulator, http: httpx.Client) -> None:
    member_uuid = sim.store.personal_access_tokens[sim.member_token]
    tokens = sim.issue_oauth_tokens(member_uuid, CLIENT_ID)
    assert tokens["expires_in"] == 7200
    assert me(http, tokens["access_token"]).json()["resource"]["uri"] == uri_of(
        "users", member_uuid
    )
