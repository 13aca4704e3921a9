"""OAuth and the token store against a fake Calendly (API + rotating refresh tokens).

The fake checks, each time it sees a new access token on the API, that the
refresh token issued with it is already in the token store file: the rotated
refresh token must be persisted before the new access token is used.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from calendly_elt.calendly.helpers.auth import MAX_LINEAGE, OAuthAuth, TokenStore, fingerprint
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.errors import (
    CalendlyAuthError,
    CalendlyRateLimitError,
    CalendlyServerError,
    TokenStoreError,
)
from calendly_elt.calendly.helpers.rate_limit import RequestCancelled
from calendly_elt.errors import ConfigError

BASE = "https://api.calendly.test"
CLIENT_ID = "client-id-1"
CLIENT_SECRET = "client-SECRET-xyz"
FIRST_REFRESH = "refresh-initial-0"


class FakeNow:
    def __init__(self) -> None:
        self.value = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **kwargs: float) -> None:
        self.value += timedelta(**kwargs)


class FakeCalendlyOAuth:
    """Token endpoint with single-use refresh tokens, plus a ``/users/me`` that checks tokens."""

    def __init__(self, now: FakeNow, store_path: Path) -> None:
        self.now = now
        self.store_path = store_path
        self.valid_refresh = {FIRST_REFRESH}
        self.access: dict[str, datetime] = {}  # access token -> expiry
        self.refresh_issued_with: dict[str, str] = {}  # access token -> refresh token
        self.seen_access: set[str] = set()
        self.violations: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.api_requests = 0
        self.issued = 0
        self.lock = threading.Lock()
        self.token_faults: list[int] = []  # statuses to answer the next token requests with
        self.hold_401: threading.Barrier | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return self.token(request)
        return self.api(request)

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self.lock:
            self.token_requests.append(form)
            if self.token_faults:
                return httpx.Response(self.token_faults.pop(0), json={"error": "server_error"})
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return httpx.Response(
                    401, json={"error": "invalid_client", "error_description": "bad client"}
                )
            if form.get("refresh_token") not in self.valid_refresh:
                return httpx.Response(
                    400,
                    json={
                        "error": "invalid_grant",
                        "error_description": "The provided authorization grant is invalid, "
                        "expired, revoked, or was issued to another client.",
                    },
                )
            self.valid_refresh.discard(form["refresh_token"])
            self.issued += 1
            access, refresh = f"access-{self.issued}", f"refresh-{self.issued}"
            self.valid_refresh.add(refresh)
            self.access[access] = self.now() + timedelta(hours=2)
            self.refresh_issued_with[access] = refresh
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 7200,
                "created_at": int(self.now().timestamp()),
            },
        )

    def api(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        with self.lock:
            self.api_requests += 1
            first_use = token not in self.seen_access
            self.seen_access.add(token)
            if first_use and token in self.refresh_issued_with:
                stored = json.loads(self.store_path.read_text())["refresh_token"]
                if stored != self.refresh_issued_with[token]:
                    self.violations.append(token)
            valid = token in self.access and self.now() < self.access[token]
        if not valid:
            if self.hold_401 is not None:
                self.hold_401.wait(timeout=5)
            return httpx.Response(
                401, json={"title": "Unauthenticated", "message": "The access token is invalid"}
            )
        return httpx.Response(200, json={"resource": {"uri": f"{BASE}/users/U1"}})


@pytest.fixture
def now() -> FakeNow:
    return FakeNow()


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "state" / "calendly_tokens.json")


@pytest.fixture
def server(now: FakeNow, store: TokenStore) -> FakeCalendlyOAuth:
    return FakeCalendlyOAuth(now, store.path)


def make_auth(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow, refresh: str = FIRST_REFRESH
) -> OAuthAuth:
    return OAuthAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        auth_base_url=BASE,
        token_store=store,
        transport=httpx.MockTransport(server),
        now=now,
        sleep=lambda seconds: None,
    )


def make_client(server: FakeCalendlyOAuth, auth: OAuthAuth, **kwargs: Any) -> CalendlyClient:
    return CalendlyClient(
        BASE, auth, transport=httpx.MockTransport(server), sleep=lambda s: None, **kwargs
    )


def test_first_use_refreshes_and_stores_the_rotated_token_before_using_it(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = make_auth(server, store, now)
    client = make_client(server, auth)
    assert client.get("/users/me")["resource"]["uri"] == f"{BASE}/users/U1"
    assert auth.refresh_count == 1
    assert server.token_requests[0] == {
        "grant_type": "refresh_token",
        "refresh_token": FIRST_REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    saved = store.load()
    assert saved is not None
    assert saved["refresh_token"] == "refresh-1"
    assert saved["access_token"] == "access-1"
    assert datetime.fromisoformat(saved["expires_at"]) == now() + timedelta(hours=2)
    assert saved["lineage"] == [fingerprint(FIRST_REFRESH)]
    assert server.violations == []
    assert client.request_count == 2  # one token request + one API request


def test_an_expiring_access_token_is_refreshed_during_use(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = make_auth(server, store, now)
    client = make_client(server, auth)
    for _ in range(3):
        client.get("/users/me")
    now.advance(hours=1, minutes=54)  # 6 minutes left: still fine with the 5 minute margin
    client.get("/users/me")
    assert auth.refresh_count == 1
    now.advance(minutes=2)  # 4 minutes left: refreshed before the request
    client.get("/users/me")
    assert auth.refresh_count == 2
    assert server.api_requests == 5  # no 401 was needed
    assert store.load()["refresh_token"] == "refresh-2"  # type: ignore[index]
    assert server.violations == []


def test_a_401_on_a_token_the_client_thinks_valid_refreshes_once_and_retries(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = make_auth(server, store, now)
    client = make_client(server, auth)
    client.get("/users/me")
    server.access.clear()  # Calendly revoked the access token early
    assert client.get("/users/me")["resource"]["uri"].endswith("/users/U1")
    assert auth.refresh_count == 2
    assert server.api_requests == 3  # ok, 401, ok
    assert server.violations == []


def test_a_second_401_after_refreshing_is_an_auth_error(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = make_auth(server, store, now)
    client = make_client(server, auth)
    client.get("/users/me")
    original_api = server.api

    def always_401(request: httpx.Request) -> httpx.Response:
        original_api(request)
        return httpx.Response(
            401, json={"title": "Unauthenticated", "message": "The access token is invalid"}
        )

    server.api = always_401  # type: ignore[method-assign]
    with pytest.raises(CalendlyAuthError, match="401 Unauthenticated"):
        client.get("/users/me")
    assert auth.refresh_count == 2  # exactly one refresh for the failed request


def test_a_new_run_with_the_stale_configured_token_uses_the_stored_one(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    first = make_auth(server, store, now)
    make_client(server, first).get("/users/me")
    now.advance(hours=3)  # the stored access token has expired too

    second = make_auth(server, store, now, refresh=FIRST_REFRESH)  # config never changed
    client = make_client(server, second)
    assert client.get("/users/me")["resource"]["uri"].endswith("/users/U1")
    assert server.token_requests[-1]["refresh_token"] == "refresh-1"
    assert second.refresh_count == 1
    saved = store.load()
    assert saved is not None
    assert saved["refresh_token"] == "refresh-2"
    assert saved["lineage"] == [fingerprint(FIRST_REFRESH), fingerprint("refresh-1")]
    assert server.violations == []

    # a third run, configured with the once-stored (now revoked) refresh-1, also works
    now.advance(hours=3)
    third = make_auth(server, store, now, refresh="refresh-1")
    make_client(server, third).get("/users/me")
    assert server.token_requests[-1]["refresh_token"] == "refresh-2"


def test_a_new_run_reuses_a_stored_access_token_that_is_still_valid(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    make_client(server, make_auth(server, store, now)).get("/users/me")
    now.advance(minutes=30)
    second = make_auth(server, store, now)
    make_client(server, second).get("/users/me")
    assert second.refresh_count == 0
    assert len(server.token_requests) == 1


def test_a_configured_token_unknown_to_the_store_is_a_fresh_authorization(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    make_client(server, make_auth(server, store, now)).get("/users/me")
    server.valid_refresh.add("refresh-reauthorized")  # the user re-authorized the app
    fresh = make_auth(server, store, now, refresh="refresh-reauthorized")
    now.advance(hours=3)
    make_client(server, fresh).get("/users/me")
    assert server.token_requests[-1]["refresh_token"] == "refresh-reauthorized"


def test_the_configured_token_keeps_working_after_more_rotations_than_the_lineage_holds(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    """Hourly runs with the first refresh token in the config, for longer than the lineage.

    The 60-day soak found it: once the configured token fell out of the last
    ``MAX_LINEAGE`` rotations it counted as a fresh authorization, was refused as
    spent, and every later run failed.
    """
    for run in range(1, MAX_LINEAGE + 11):
        now.advance(hours=3)  # every run refreshes
        auth = make_auth(server, store, now, refresh=FIRST_REFRESH)  # config never changed
        make_client(server, auth).get("/users/me")
        expected = FIRST_REFRESH if run == 1 else f"refresh-{run - 1}"
        assert server.token_requests[-1]["refresh_token"] == expected
    saved = store.load()
    assert saved is not None and saved["origin"] == fingerprint(FIRST_REFRESH)
    assert (
        len(saved["lineage"]) == MAX_LINEAGE and fingerprint(FIRST_REFRESH) not in saved["lineage"]
    )
    assert len(server.token_requests) == MAX_LINEAGE + 10  # no refused attempt on the way


def test_a_store_from_before_origins_recovers_a_spent_configured_token(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow, caplog: pytest.LogCaptureFixture
) -> None:
    make_client(server, make_auth(server, store, now)).get("/users/me")
    saved = store.load()
    assert saved is not None
    store.save({key: value for key, value in saved.items() if key != "origin"} | {"lineage": []})
    now.advance(hours=3)
    with caplog.at_level(logging.WARNING):
        make_client(server, make_auth(server, store, now)).get("/users/me")
    assert [form["refresh_token"] for form in server.token_requests] == [
        FIRST_REFRESH, FIRST_REFRESH, "refresh-1"  # refused as spent, then the stored one
    ]  # fmt: skip
    assert "refused the configured refresh token as spent" in caplog.text
    assert FIRST_REFRESH not in caplog.text and "refresh-1" not in caplog.text
    repaired = store.load()
    assert repaired is not None and repaired["refresh_token"] == "refresh-2"
    assert repaired["origin"] == fingerprint(FIRST_REFRESH)  # the next run needs no detour
    now.advance(hours=3)
    make_client(server, make_auth(server, store, now)).get("/users/me")
    assert server.token_requests[-1]["refresh_token"] == "refresh-2"


def test_a_spent_configured_token_and_a_spent_store_are_still_an_auth_error(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    make_client(server, make_auth(server, store, now)).get("/users/me")
    saved = store.load()
    assert saved is not None
    store.save(saved | {"origin": "", "lineage": []})
    server.valid_refresh.clear()  # the authorization was revoked
    now.advance(hours=3)
    with pytest.raises(CalendlyAuthError, match="400 invalid_grant"):
        make_client(server, make_auth(server, store, now)).get("/users/me")
    assert [form["refresh_token"] for form in server.token_requests[1:]] == [
        FIRST_REFRESH, "refresh-1"
    ]  # fmt: skip


def test_the_store_alone_is_enough_when_no_refresh_token_is_configured(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    make_client(server, make_auth(server, store, now)).get("/users/me")
    now.advance(hours=3)
    make_client(server, make_auth(server, store, now, refresh="")).get("/users/me")
    assert server.token_requests[-1]["refresh_token"] == "refresh-1"


def test_no_refresh_token_anywhere_is_a_config_error(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    with pytest.raises(ConfigError, match="CALENDLY_REFRESH_TOKEN"):
        make_auth(server, store, now, refresh="")


def test_eight_threads_hitting_401_at_once_cause_exactly_one_refresh(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = make_auth(server, store, now)
    client = make_client(server, auth, max_concurrency=8)
    client.get("/users/me")
    assert auth.refresh_count == 1
    server.access.clear()  # every in-flight request will get a 401 ...
    server.hold_401 = threading.Barrier(8)  # ... and all 8 get it at the same moment

    results = list(client.map_concurrently(lambda n: client.get("/users/me"), range(8)))
    server.hold_401 = None

    assert [n for n, _ in results] == list(range(8))
    assert all(body["resource"]["uri"].endswith("/users/U1") for _, body in results)
    assert auth.refresh_count == 2  # the initial one + exactly ONE for the 8 concurrent 401s
    assert len(server.token_requests) == 2
    assert server.violations == []


def test_reusing_an_old_refresh_token_is_a_clear_auth_error(
    server: FakeCalendlyOAuth,
    store: TokenStore,
    now: FakeNow,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_client(server, make_auth(server, store, now)).get("/users/me")
    # another machine, without the token store, still configured with the used token
    elsewhere = TokenStore(tmp_path / "elsewhere.json")
    stale = make_auth(server, elsewhere, now, refresh=FIRST_REFRESH)
    with pytest.raises(CalendlyAuthError) as caught:
        make_client(server, stale).get("/users/me")
    text = str(caught.value)
    assert text.startswith("400 invalid_grant: The provided authorization grant is invalid")
    assert "re-authorize the OAuth app" in text
    assert "already used" in text
    assert FIRST_REFRESH not in text and CLIENT_SECRET not in text
    assert elsewhere.load() is None
    assert caplog.records  # the refused refresh, logged at debug, shows no secret either
    for secret in (FIRST_REFRESH, "refresh-1", "access-1", CLIENT_SECRET):
        assert secret not in caplog.text


def test_bad_client_credentials_give_client_advice(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    auth = OAuthAuth(
        client_id=CLIENT_ID,
        client_secret="wrong-secret",
        refresh_token=FIRST_REFRESH,
        auth_base_url=BASE,
        token_store=store,
        transport=httpx.MockTransport(server),
        now=now,
    )
    with pytest.raises(CalendlyAuthError) as caught:
        auth.authorization()
    assert str(caught.value) == (
        "401 invalid_client: bad client - check CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET"
    )
    assert "wrong-secret" not in str(caught.value)


def test_token_endpoint_5xx_is_retried_then_gives_up(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    server.token_faults = [503, 502]
    auth = make_auth(server, store, now)
    assert auth.authorization() == "Bearer access-1"
    assert auth.token_request_count == 3

    server.token_faults = [503] * 10
    now.advance(hours=3)
    with pytest.raises(CalendlyServerError, match="503"):
        auth.authorization()
    assert auth.token_request_count == 3 + 4  # max_retries=3
    assert store.load()["refresh_token"] == "refresh-1"  # type: ignore[index]


def test_a_429_burst_at_the_token_endpoint_is_waited_out_not_counted_as_retries(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    """A burst of 6 429s (and a 5xx) must not fail a refresh that has max_retries=3."""
    waits: list[float] = []
    server.token_faults = [429] * 6 + [503]
    auth = OAuthAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=FIRST_REFRESH,
        auth_base_url=BASE,
        token_store=store,
        transport=httpx.MockTransport(server),
        now=now,
        sleep=waits.append,
        rate_limit_wait=10.0,
    )
    assert auth.authorization() == "Bearer access-1"
    assert auth.token_request_count == 8
    assert waits[:6] == [1.0] * 6  # no X-RateLimit-Reset: a second each

    server.token_faults = [429] * 20  # ... but 429s for longer than the budget do fail
    now.advance(hours=3)
    with pytest.raises(CalendlyRateLimitError, match="429"):
        auth.authorization()
    assert auth.token_request_count == 8 + 11  # 10 s of 1-second waits, then the 11th 429


def test_a_cancel_cuts_a_token_retry_short_without_spending_the_refresh_token(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    server.token_faults = [503] * 10
    auth = OAuthAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=FIRST_REFRESH,
        auth_base_url=BASE,
        token_store=store,
        transport=httpx.MockTransport(server),
        now=now,
        sleep=lambda seconds: auth.cancel(),  # Ctrl-C during the first retry wait
    )
    with pytest.raises(RequestCancelled):
        auth.authorization()
    assert auth.token_request_count == 1
    assert FIRST_REFRESH in server.valid_refresh and store.load() is None


def test_a_failing_token_store_stops_before_the_new_token_is_used(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("calendly_elt.calendly.helpers.token_store.os.replace", disk_full)
    auth = make_auth(server, store, now)
    with pytest.raises(
        TokenStoreError, match=r"cannot write the OAuth token store .*No space left"
    ):
        make_client(server, auth).get("/users/me")
    assert server.api_requests == 0
    # the temporary file was removed; the lock file stays (see TokenStore)
    assert [path.name for path in store.path.parent.iterdir()] == ["calendly_tokens.json.lock"]


def test_oauth_logs_never_show_tokens_or_the_client_secret(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.token_faults = [500]
    auth = make_auth(server, store, now)
    client = make_client(server, auth)
    client.get("/users/me")
    server.access.clear()
    client.get("/users/me")
    assert "OAuth access token refreshed" in caplog.text
    for secret in (FIRST_REFRESH, "refresh-1", "refresh-2", "access-1", "access-2", CLIENT_SECRET):
        assert secret not in caplog.text
    assert "client-SECRET" not in repr(auth)


# --- token store -----------------------------------------------------------------------


def test_token_store_file_is_0600_and_replaced_atomically(store: TokenStore) -> None:
    assert store.load() is None
    store.save({"refresh_token": "r1"})
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    inode = os.stat(store.path).st_ino
    store.save({"refresh_token": "r2"})
    assert store.load() == {"refresh_token": "r2"}
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert os.stat(store.path).st_ino != inode  # a new file renamed over the old one
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["calendly_tokens.json"]


def test_token_store_tightens_a_world_readable_file(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text('{"refresh_token": "r"}')
    os.chmod(store.path, 0o644)
    assert store.load() == {"refresh_token": "r"}
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_a_corrupt_token_store_is_a_clear_error(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(TokenStoreError, match="is not valid JSON"):
        store.load()
    store.path.write_text("[1, 2]")
    with pytest.raises(TokenStoreError, match="does not hold a JSON object"):
        store.load()


# --- a token store that cannot work, and two processes sharing one ------------------------


def _not_a_folder(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "tokens.json"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(_not_a_folder, id="under-a-file"),
        pytest.param(lambda tmp_path: tmp_path, id="a-folder"),
        pytest.param(
            lambda tmp_path: Path("/proc/nope/tok.json"),
            id="under-proc",
            marks=pytest.mark.skipif(not Path("/proc/self").exists(), reason="no /proc"),
        ),
    ],
)
def test_an_unusable_token_store_path_fails_before_the_refresh_token_is_spent(
    where: Any, server: FakeCalendlyOAuth, now: FakeNow, tmp_path: Path
) -> None:
    path = where(tmp_path)
    with pytest.raises(ConfigError) as caught:
        make_auth(server, TokenStore(path), now)
    text = str(caught.value)
    assert text.startswith(f"cannot write the OAuth token store {path} (")
    assert "token_store_path" in text
    assert "the refresh token was not used" in text
    assert "\n" not in text and FIRST_REFRESH not in text
    assert server.token_requests == []
    assert FIRST_REFRESH in server.valid_refresh  # the authorization still works


def test_the_writability_check_leaves_only_the_folder_behind(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    make_auth(server, store, now)
    assert list(store.path.parent.iterdir()) == []
    assert server.token_requests == []  # nothing is sent before it is needed


def test_a_second_process_takes_over_the_token_the_first_just_stored(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    # two runs started from the same store and configuration (DuckDB and postgres)
    first, second = make_auth(server, store, now), make_auth(server, store, now)
    assert first.authorization() == "Bearer access-1"
    assert second.authorization() == "Bearer access-1"  # not a refresh with the spent token
    assert len(server.token_requests) == 1
    assert second.refresh_count == 0

    now.advance(hours=3)  # both access tokens expired; the second refreshes from the store
    assert second.authorization() == "Bearer access-2"
    assert server.token_requests[-1]["refresh_token"] == "refresh-1"
    saved = store.load()
    assert saved is not None
    assert saved["lineage"] == [fingerprint(FIRST_REFRESH), fingerprint("refresh-1")]
    assert first.authorization() == "Bearer access-2"
    assert len(server.token_requests) == 2


def test_after_a_401_a_second_process_takes_over_the_refresh_the_first_made(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    first, second = make_auth(server, store, now), make_auth(server, store, now)
    one, two = make_client(server, first), make_client(server, second)
    one.get("/users/me")
    two.get("/users/me")
    server.access.clear()  # Calendly revoked access-1 early: both runs get a 401
    one.get("/users/me")
    assert two.get("/users/me")["resource"]["uri"].endswith("/users/U1")
    assert len(server.token_requests) == 2  # the first token, then ONE refresh for both runs
    assert second.authorization() == "Bearer access-2"
    assert server.violations == []

    server.access.clear()  # revoked again: the stored access-2 is the stale one, so refresh
    assert two.get("/users/me")["resource"]["uri"].endswith("/users/U1")
    assert server.token_requests[-1]["refresh_token"] == "refresh-2"


def test_processes_refreshing_at_once_wait_for_the_store_lock_and_refresh_once(
    server: FakeCalendlyOAuth, store: TokenStore, now: FakeNow
) -> None:
    runs = [make_auth(server, store, now) for _ in range(3)]
    headers: list[str] = []
    errors: list[BaseException] = []

    def authorize(auth: OAuthAuth) -> None:
        try:
            headers.append(auth.authorization())
        except BaseException as error:  # reported by the assertions below
            errors.append(error)

    threads = [threading.Thread(target=authorize, args=(auth,)) for auth in runs]
    with store.locked():  # as if another process were refreshing right now
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=0.5)
        assert server.token_requests == []  # nobody refreshes while the store is locked
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert headers == ["Bearer access-1"] * 3
    assert len(server.token_requests) == 1
    assert sorted(path.name for path in store.path.parent.iterdir()) == [
        "calendly_tokens.json",
        "calendly_tokens.json.lock",
    ]
