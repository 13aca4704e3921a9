"""``calendly-elt auth login | status | logout`` end to end against the simulator on 127.0.0.1.

The test plays the browser: it opens the authorize URL the CLI hands to
``webbrowser.open`` on the served simulator (whose consent is a query
parameter), and follows the redirect to the CLI's loopback callback.
"""

from __future__ import annotations

import json
import logging
import subprocess
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from test_sim_serve import REPO, WITH_DEFAULT_SIGINT, read_lines
from test_sim_serve import cli as sim_cli

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.calendly.helpers.scopes import DEFAULT_LOGIN_SCOPES
from calendly_elt.cli.main import main
from calendly_elt.cli.sim_commands import SIM_OAUTH_CLIENT_ID, SIM_OAUTH_CLIENT_SECRET
from calendly_elt.errors import ConfigError
from calendly_elt.simulator import Simulator, generate_organization

CLIENT_ID, CLIENT_SECRET = "elt-login-app", "elt-login-secret"
CLEARED = ("CALENDLY_ACCESS_TOKEN", "CALENDLY_REFRESH_TOKEN", "SOURCES__CALENDLY__ACCESS_TOKEN",
           "SOURCES__CALENDLY__REFRESH_TOKEN", "SOURCES__CALENDLY__CLIENT_ID",
           "SOURCES__CALENDLY__CLIENT_SECRET")  # fmt: skip


@dataclass
class Served:
    sim: Simulator
    base_url: str
    folder: Path

    @property
    def token_store(self) -> Path:
        return self.folder / "tokens.json"

    def stored(self) -> dict[str, object]:
        return json.loads(self.token_store.read_text())  # type: ignore[no-any-return]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    # history up to the real now: a wall-clock `run` reads all of it
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sim = Simulator(generate_organization(seed=7, size="tiny", now=now))
    sim.register_oauth_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/callback")
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    with sim.serve() as base_url:
        monkeypatch.setenv("CALENDLY_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("CALENDLY_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        monkeypatch.setenv("CALENDLY_AUTH_BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__CALENDLY__TOKEN_STORE_PATH", str(tmp_path / "tokens.json"))
        yield Served(sim, base_url, tmp_path)


@dataclass
class Browser:
    """Opens the authorize URL, consents (``consent`` params), follows the redirect."""

    consent: dict[str, str] = field(default_factory=dict)
    tamper: Callable[[str], str] | None = None
    opened: list[str] = field(default_factory=list)
    callback: httpx.Response | None = None

    def open(self, url: str, *args: object, **kwargs: object) -> bool:
        self.opened.append(url)
        with httpx.Client(timeout=10) as http:
            separator = "&" if self.consent else ""
            authorize = http.get(url + separator + urlencode(self.consent))
            assert authorize.status_code == 302, authorize.text
            location = authorize.headers["Location"]
            self.callback = http.get(self.tamper(location) if self.tamper else location)
        return True


def use_browser(monkeypatch: pytest.MonkeyPatch, browser: Browser) -> Browser:
    monkeypatch.setattr(webbrowser, "open", browser.open)
    return browser


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_no_token(served: Served, *texts: str) -> None:
    stored = served.stored() if served.token_store.exists() else {}
    for name in ("access_token", "refresh_token"):
        secret = str(stored.get(name) or "")
        assert secret, f"no {name} to look for"
        for text in texts:
            assert secret not in text


def admin_of(sim: Simulator) -> dict[str, object]:
    return sim.store.users[sim.store.personal_access_tokens[sim.admin_token]]


def test_login_then_a_run_with_the_stored_rotated_tokens_warns_about_the_refused_scope(
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    browser = use_browser(monkeypatch, Browser(consent={"refuse_scope": "routing_forms:read"}))
    code, out, err = cli(capsys, "auth", "login")
    assert code == 0, err

    query = parse_qs(urlsplit(browser.opened[0]).query)
    assert urlsplit(browser.opened[0]).path == "/oauth/authorize"
    assert query["scope"] == [" ".join(DEFAULT_LOGIN_SCOPES)]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert urlsplit(query["redirect_uri"][0]).hostname == "127.0.0.1"
    assert browser.callback is not None and browser.callback.status_code == 200
    assert browser.opened[0] in err  # printed for a browser elsewhere

    admin = admin_of(served.sim)
    granted = sorted(scope for scope in DEFAULT_LOGIN_SCOPES if scope != "routing_forms:read")
    lines = out.splitlines()
    assert lines[0] == f"connected: {admin['name']} <{admin['email']}> ({admin['uri']})"
    assert lines[1] == f"organization: {served.sim.store.organization['uri']}"
    assert lines[2] == f"granted scopes: {' '.join(granted)}"
    skipped = "routing_forms, routing_form_submissions"
    assert lines[3] == f"refused scope: routing_forms:read (without it, runs skip {skipped})"
    assert served.token_store.stat().st_mode & 0o777 == 0o600
    first = served.stored()
    assert first["scope"] == " ".join(granted)
    assert_no_token(served, out, err)

    served.sim.clock.advance(timedelta(hours=3))  # the stored access token has expired
    database, pipelines = served.folder / "w.duckdb", served.folder / "pipelines"
    with caplog.at_level(logging.WARNING):
        code, out, err = cli(capsys, "run", "--duckdb", str(database),
                             "--pipelines-dir", str(pipelines), "--skip-models")  # fmt: skip
    assert code == 0, err
    events = len(served.sim.store.events)
    assert "backfill done: " in out and f" {events} events, " in out
    rotated = served.stored()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert served.sim.stats["POST /oauth/token"] == 2  # the code exchange, then one refresh
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("calendly_elt")]
    assert len(warnings) == 1
    assert warnings[0].startswith("skipping routing_forms: 403 Permission Denied")
    assert "create a token with scope routing_forms:read" in warnings[0]
    assert_no_token(served, out, err, *warnings)

    served.sim.clock.advance(timedelta(hours=3))  # the next run rotates the stored tokens again
    code, out, err = cli(capsys, "run", "--duckdb", str(database),
                         "--pipelines-dir", str(pipelines), "--skip-models")  # fmt: skip
    assert code == 0, err
    assert out.startswith("incremental done: ")
    spent = (rotated["refresh_token"], first["refresh_token"])
    assert served.stored()["refresh_token"] not in spent
    assert served.sim.stats["POST /oauth/token"] == 3


def test_status_shows_user_scopes_and_expiry_and_never_a_token(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_browser(monkeypatch, Browser())
    assert cli(capsys, "auth", "login", "--scope", "users:read, scheduled_events:read")[0] == 0
    code, out, err = cli(capsys, "auth", "status")
    assert code == 0, err
    admin = admin_of(served.sim)
    expires = served.sim.clock.now() + timedelta(hours=2)
    assert out.splitlines() == [
        f"user: {admin['name']} <{admin['email']}> ({admin['uri']})",
        f"organization: {served.sim.store.organization['uri']}",
        "scopes: scheduled_events:read users:read",
        f"access token: valid until {expires:%Y-%m-%d %H:%M:%S} UTC",
        f"token store: {served.token_store}",
    ]
    assert_no_token(served, out, err)

    served.sim.clock.advance(timedelta(hours=3))
    code, out, err = cli(capsys, "auth", "status")
    assert code == 0, err
    assert "scopes: scheduled_events:read users:read" in out.splitlines()
    assert f"user: {admin['uri']} (name not readable without users:read)" in out.splitlines()
    assert "; the next run refreshes it" in out
    assert_no_token(served, out, err)


def test_logout_revokes_the_grant_and_forgets_the_tokens(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_browser(monkeypatch, Browser())
    assert cli(capsys, "auth", "login", "--scope", "users:read")[0] == 0
    stored = served.stored()
    code, out, err = cli(capsys, "auth", "logout")
    assert code == 0, err
    assert out.strip() == f"revoked and forgot the tokens in {served.token_store}"
    assert not served.token_store.exists()
    assert served.sim.stats["POST /oauth/revoke"] == 2
    with httpx.Client(base_url=served.base_url) as http:
        me = http.get("/users/me", headers={"Authorization": f"Bearer {stored['access_token']}"})
        assert me.status_code == 401
        reuse = http.post("/oauth/token", data={"grant_type": "refresh_token",
                          "refresh_token": stored["refresh_token"]},
                          auth=(CLIENT_ID, CLIENT_SECRET))  # fmt: skip
        assert reuse.json()["error"] == "invalid_grant"
    code, out, _ = cli(capsys, "auth", "logout")
    assert code == 0
    assert out.strip() == f"no OAuth tokens stored in {served.token_store}; nothing to do"
    code, _, err = cli(capsys, "auth", "status")
    assert code == 2
    assert err.strip() == (f"error: no OAuth tokens stored in {served.token_store}: "
                           "run `calendly-elt auth login` first")  # fmt: skip


def _replace_state(value: str | None) -> Callable[[str], str]:
    def tamper(location: str) -> str:
        parts = urlsplit(location)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        query.pop("state")
        if value is not None:
            query["state"] = value
        return urlunsplit(parts._replace(query=urlencode(query)))

    return tamper


@pytest.mark.parametrize("state", ["forged-state", None], ids=["wrong", "missing"])
def test_a_wrong_or_missing_state_fails_and_stores_nothing(
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state: str | None,
) -> None:
    use_browser(monkeypatch, Browser(tamper=_replace_state(state)))
    code, out, err = cli(capsys, "auth", "login")
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: the OAuth redirect carried a missing or different state (a stale or forged "
        "redirect); nothing was stored: run `calendly-elt auth login` again"
    )
    assert out == ""
    assert not served.token_store.exists()
    assert served.sim.stats["POST /oauth/token"] == 0  # the code was never exchanged


def test_an_error_redirect_fails_and_stores_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_browser(monkeypatch, Browser(consent={"consent": "deny"}))
    code, _, err = cli(capsys, "auth", "login")
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: Calendly refused the authorization (access_denied: The resource owner denied "
        "the request.); nothing was stored"
    )
    assert not served.token_store.exists()


def test_no_browser_prints_the_url_and_times_out_without_a_redirect(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = use_browser(monkeypatch, Browser())
    code, _, err = cli(capsys, "auth", "login", "--no-browser", "--timeout", "0.2")
    assert browser.opened == []
    assert code == 1
    assert "/oauth/authorize?client_id=elt-login-app" in err
    assert "error: no authorization arrived at http://127.0.0.1:" in err
    assert not served.token_store.exists()


def test_login_needs_the_app_credentials_and_valid_scope_names(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "auth", "login", "--scope", "scheduled-events")
    assert code == 2
    assert err.strip() == (
        "error: --scope 'scheduled-events' is not a scope like scheduled_events:read"
    )
    monkeypatch.delenv("CALENDLY_CLIENT_SECRET")
    code, _, err = cli(capsys, "auth", "login")
    assert code == 2
    assert "CALENDLY_CLIENT_SECRET" in err


def test_the_token_store_replaces_a_configured_refresh_token(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="auth login"):
        resolve_settings()  # client id and secret, but no refresh token anywhere yet
    use_browser(monkeypatch, Browser())
    assert cli(capsys, "auth", "login", "--scope", "users:read")[0] == 0
    settings = resolve_settings()
    assert settings.auth_method == "oauth" and settings.refresh_token is None


def test_login_against_sim_serve_as_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = [*WITH_DEFAULT_SIGINT, *sim_cli(), "sim", "serve", "--port", "0", "--size", "tiny",
               "--no-webhooks"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        base_url = read_lines(process.stdout, 2, timeout=30)[0].split("=", 1)[1]
        for name in CLEARED:
            monkeypatch.delenv(name, raising=False)
        environment = {
            "CALENDLY_CLIENT_ID": SIM_OAUTH_CLIENT_ID,
            "CALENDLY_CLIENT_SECRET": SIM_OAUTH_CLIENT_SECRET,
            "CALENDLY_BASE_URL": base_url,
            "CALENDLY_AUTH_BASE_URL": base_url,
            "SOURCES__CALENDLY__TOKEN_STORE_PATH": str(tmp_path / "t.json"),
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        use_browser(monkeypatch, Browser())
        code, out, err = cli(capsys, "auth", "login", "--scope", "users:read")
        assert code == 0, err
        assert out.splitlines()[2] == "granted scopes: users:read"
        code, out, err = cli(capsys, "auth", "status")
        assert code == 0, err
        assert "scopes: users:read" in out.splitlines()
    finally:
        process.kill()
        process.wait(timeout=10)


def test_an_unwritable_token_store_fails_before_the_browser_opens(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = served.folder / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("SOURCES__CALENDLY__TOKEN_STORE_PATH", str(blocker / "tokens.json"))
    browser = use_browser(monkeypatch, Browser())
    code, _, err = cli(capsys, "auth", "login")
    assert code == 2
    assert err.startswith(f"error: cannot write the OAuth token store {blocker / 'tokens.json'} (")
    assert err.rstrip().endswith("nothing was authorized")
    assert browser.opened == []
