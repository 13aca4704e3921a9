"""Errors that say what to do: each failure path has its own one-line message.

A wrong ``--duckdb``, an HTML page at the base URL, a PostgreSQL URL without a
password, a 401 (naming where the token came from), a missing warehouse file
(one exit code for every command), a looping ``next_page``; then every class
of the error family is checked for a specific message without a token.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeClock

import calendly_elt
from calendly_elt.calendly.config import build_client, resolve_settings
from calendly_elt.calendly.helpers.auth import OAuthAuth, PersonalAccessTokenAuth, TokenStore
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.errors import (
    ADVICE_NOT_FOUND,
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyNotApiError,
    CalendlyNotFoundError,
    CalendlyPagingLoopError,
)
from calendly_elt.cli.main import main
from calendly_elt.errors import CalendlyEltError, ConfigError
from calendly_elt.runner import make_pipeline
from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.webhooks.errors import RejectedDelivery

BASE = "https://api.calendly.test"
PLANTED = "eyJplantedSECRETtoken.abc123.xyz"
CLI = [sys.executable, "-m", "calendly_elt.cli.main"]


@pytest.fixture(autouse=True)
def _no_calendly_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("CALENDLY_", "SOURCES__CALENDLY__", "DESTINATION__")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_home"))
    monkeypatch.chdir(tmp_path)


# --- --duckdb that is not a DuckDB file ------------------------------------------------------


def _sqlite_file(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("create table t (a int)")
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir() or p, "is a folder, not a DuckDB file: give a file path"),
        (lambda p: p.write_text("hello\n") and p, "is not a DuckDB database: give a DuckDB file"),
        (_sqlite_file, "is a SQLite database: give a DuckDB file"),
    ],
)
def test_a_wrong_duckdb_path_gets_its_own_message_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, expected: str
) -> None:
    target = make(tmp_path / "warehouse.duckdb")
    for command in (["run", "--skip-models"], ["status"], ["models"], ["report"]):
        os.environ["CALENDLY_ACCESS_TOKEN"] = "pat-1"
        try:
            code = main([*command, "--duckdb", str(target)])
        finally:
            del os.environ["CALENDLY_ACCESS_TOKEN"]
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert err == f"error: --duckdb {target} {expected}" + err.split(expected, 1)[1], err
        assert "credentials" not in err and err.count("\n") == 1


def test_an_empty_file_is_a_new_duckdb_database(tmp_path: Path) -> None:
    (tmp_path / "new.duckdb").write_bytes(b"")
    pipeline = make_pipeline(duckdb_path=tmp_path / "new.duckdb")
    assert pipeline.pipeline_name == "calendly"


# --- an HTML page at the base URL ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (
            200,
            {"content-type": "text/html; charset=utf-8"},
            b"<!doctype html><title>Calendly</title>",
        ),
        (404, {"content-type": "text/html"}, b"<html><body>Page not found</body></html>"),
        (200, {}, b"  <html><body>sign in</body></html>"),
    ],
)
def test_an_html_page_is_not_retried_nor_a_missing_plan_feature(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    sent: list[httpx.Request] = []

    def web_app(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, headers=headers, content=body)

    clock = FakeClock()
    client = CalendlyClient(BASE, PersonalAccessTokenAuth("pat-1"), sleep=clock.sleep,
                            clock=clock, transport=httpx.MockTransport(web_app))  # fmt: skip
    with pytest.raises(CalendlyNotApiError) as caught:
        client.get("/users/me")
    assert len(sent) == 1  # not retried
    message = str(caught.value)
    assert message.startswith(f"{status} Not the Calendly API: {BASE} answered with an HTML page")
    assert "does not look like the Calendly API" in message and "check base_url" in message
    assert ADVICE_NOT_FOUND not in message and "kept failing" not in message


def test_a_json_404_is_still_a_missing_resource_or_plan_feature() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"title": "Resource Not Found", "message": "gone"})

    client = CalendlyClient(BASE, PersonalAccessTokenAuth("pat-1"),
                            transport=httpx.MockTransport(api))  # fmt: skip
    with pytest.raises(CalendlyNotFoundError, match=ADVICE_NOT_FOUND):
        client.get("/routing_forms")


# --- a PostgreSQL URL without a password -----------------------------------------------------


def test_a_postgres_url_without_a_password_names_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://loader@127.0.0.1:1/db")
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "pat-1")
    for command in (["run", "--skip-models"], ["status"], ["models"]):
        assert main([*command, "--destination", "postgres"]) == 2, command
        err = capsys.readouterr().err
        assert err == (
            "error: the postgres credentials have no password: add it to the connection URL "
            "(postgresql://user:PASSWORD@host:port/database) or set "
            "DESTINATION__POSTGRES__CREDENTIALS__PASSWORD (or password under "
            "[destination.postgres.credentials] in .dlt/secrets.toml)\n"
        ), command


# --- a 401 says where the token came from ----------------------------------------------------


def _refusing(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/oauth/token":
        return httpx.Response(200, json={"access_token": "fresh", "expires_in": 7200})
    return httpx.Response(401, json={"title": "Unauthenticated", "message": "The token is invalid"})


def _advice_of_401(**explicit: Any) -> str:
    client = build_client(resolve_settings(base_url=BASE, **explicit),
                          transport=httpx.MockTransport(_refusing))  # fmt: skip
    with pytest.raises(CalendlyAuthError) as caught:
        client.get("/users/me")
    return caught.value.advice


def test_a_401_names_the_environment_variable_the_token_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", PLANTED)
    advice = _advice_of_401()
    assert "from the environment variable CALENDLY_ACCESS_TOKEN is invalid" in advice
    monkeypatch.delenv("CALENDLY_ACCESS_TOKEN")
    monkeypatch.setenv("SOURCES__CALENDLY__ACCESS_TOKEN", PLANTED)
    advice = _advice_of_401()
    assert "from the environment variable SOURCES__CALENDLY__ACCESS_TOKEN is invalid" in advice
    assert PLANTED not in advice


def test_a_401_after_an_oauth_refresh_names_the_token_store(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.save({"refresh_token": "stored-refresh", "lineage": []})
    auth = OAuthAuth(client_id="app", client_secret="s", refresh_token="", auth_base_url=BASE,
                     token_store=store, transport=httpx.MockTransport(_refusing))  # fmt: skip
    client = CalendlyClient(BASE, auth, transport=httpx.MockTransport(_refusing))
    with pytest.raises(CalendlyAuthError) as caught:
        client.get("/users/me")
    assert f"the refresh token came from the OAuth token store {store.path}" in str(caught.value)
    assert "calendly-elt auth login" in str(caught.value)


@pytest.fixture
def served() -> Iterator[str]:
    store = generate_organization(seed=3, size="tiny")
    with Simulator(store, SimConfig(requests_per_minute=100_000)).serve() as base_url:
        yield base_url


def test_a_401_names_secrets_toml_when_the_token_is_there(tmp_path: Path, served: str) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        f'[sources.calendly]\naccess_token = "{PLANTED}"\nbase_url = "{served}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDLY_")}
    done = subprocess.run([*CLI, "run", "--skip-models"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "the access token from .dlt/secrets.toml is invalid, expired or revoked" in done.stderr
    assert PLANTED not in done.stderr + done.stdout


# --- the same missing file, the same exit code -----------------------------------------------


def test_a_missing_duckdb_file_exits_1_in_status_report_and_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.duckdb"
    for command in (["status"], ["report"], ["models"]):
        assert main([*command, "--duckdb", str(missing)]) == 1, command
        assert capsys.readouterr().err == (
            f"error: no DuckDB warehouse at {missing}: run `calendly-elt run` first\n"
        )
    assert not missing.exists()


# --- a looping next_page ---------------------------------------------------------------------


def test_a_paging_loop_says_so_with_advice_that_fits() -> None:
    error = CalendlyPagingLoopError("/scheduled_events", f"{BASE}/scheduled_events?page_token=A")
    assert str(error).startswith(
        "Paging Loop: Calendly returned the same next_page twice: /scheduled_events - "
    )
    assert "try again later" not in str(error) and "page_token=A" not in str(error)
    assert "window_days" in error.advice


def test_the_client_raises_the_paging_loop_error_on_a_repeated_next_page() -> None:
    def looping(request: httpx.Request) -> httpx.Response:
        page = {"count": 1, "next_page": f"{BASE}/scheduled_events?page_token=A"}
        return httpx.Response(200, json={"collection": [{"uri": "u"}], "pagination": page})

    client = CalendlyClient(BASE, PersonalAccessTokenAuth("pat-1"),
                            transport=httpx.MockTransport(looping))  # fmt: skip
    with pytest.raises(CalendlyPagingLoopError):
        list(client.paginate("/scheduled_events"))


# --- every class of the family ---------------------------------------------------------------

PACKAGE = Path(calendly_elt.__file__).parent


def _all_subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def _the_family() -> list[type[CalendlyEltError]]:
    for module in pkgutil.walk_packages(calendly_elt.__path__, "calendly_elt."):
        importlib.import_module(module.name)
    return sorted(_all_subclasses(CalendlyEltError), key=lambda c: c.__qualname__)  # type: ignore[arg-type]


def _with_planted_token(cls: type[CalendlyEltError]) -> CalendlyEltError:
    """An instance as a raise site makes it, quoting a token the way leaks happen."""
    leak = f"request failed: Authorization: Bearer {PLANTED}; body access_token={PLANTED}"
    if issubclass(cls, CalendlyPagingLoopError):
        return cls("/scheduled_events", f"{BASE}/x?page_token={PLANTED}")
    if issubclass(cls, CalendlyApiError):
        return cls(401, "Unauthenticated", leak, url=f"{BASE}/x?token={PLANTED}")
    if issubclass(cls, RejectedDelivery):
        return cls(400, leak)
    return cls(leak)


_RAISED_WITH_A_MESSAGE = re.compile(
    r"\b(?P<name>[A-Z]\w+(?:Error|Delivery))\(\s*(?:f?\"|\w+\.\w+|\w+,)"
)


def _raised_with_a_message() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        names |= {match["name"] for match in _RAISED_WITH_A_MESSAGE.finditer(path.read_text())}
    return names


def _default_message(cls: type[CalendlyEltError]) -> str:
    try:
        return str(cls())
    except TypeError:
        return ""


def test_every_error_class_has_a_specific_message_and_never_the_token() -> None:
    family = _the_family()
    assert len(family) >= 25  # walked across the whole package, not one module
    raised = _raised_with_a_message()
    api_advice: dict[tuple[str, str], str] = {}
    for cls in family:
        assert (cls.__doc__ or "").strip(), f"{cls.__qualname__}: no docstring"
        error = _with_planted_token(cls)
        assert PLANTED not in str(error) and PLANTED not in repr(error.args), cls.__qualname__
        if issubclass(cls, CalendlyApiError):  # built from responses: the class carries the advice
            if cls is not CalendlyApiError:
                assert cls.default_advice and cls.default_advice in str(error), cls.__qualname__
                key = (cls.default_title, cls.default_advice)
                assert key not in api_advice, f"{cls.__qualname__} says what {api_advice[key]} says"
                api_advice[key] = cls.__qualname__
            continue
        subclasses = _all_subclasses(cls)
        assert cls.__name__ in raised or subclasses or _default_message(cls), (
            f"{cls.__qualname__}: never raised with a message"
        )
    assert {ConfigError, CalendlyNotApiError, CalendlyPagingLoopError} <= set(family)
