"""One validation for every setting, whether it comes from TOML, the environment or a parameter.

TOML hands values over typed (floats, booleans, ``inf``); the environment as
strings; a parameter as Python values. Each is refused the same way: one
``ConfigError`` line naming the key and the source. Secrets a header cannot
carry are refused before any request, and never shown.

dlt finds ``.dlt/`` from the working directory once per process, so the TOML
cases run the CLI in a fresh process in a temp folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.errors import ConfigError

CLI = [sys.executable, "-m", "calendly_elt.cli.main"]
TOKEN = "pat-valid-123"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: any request would fail, slowly


def cli_in(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    clean.update({"CALENDLY_BASE_URL": UNREACHABLE, "RUNTIME__LOG_LEVEL": "ERROR"})
    clean.update(env or {})
    return subprocess.run(
        [*CLI, *args], cwd=folder, env=clean, capture_output=True, text=True, timeout=120
    )


def with_config(folder: Path, config: str, secrets: str = "") -> Path:
    (folder / ".dlt").mkdir(parents=True, exist_ok=True)
    (folder / ".dlt" / "config.toml").write_text(f"[sources.calendly]\n{config}\n")
    if secrets:
        (folder / ".dlt" / "secrets.toml").write_text(f"[sources.calendly]\n{secrets}\n")
    return folder


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("window_days = 1.5", "window_days must be a whole number, got 1.5"),
        ("window_days = true", "window_days must be a whole number, got True"),
        ("lookback_days = 2.0", "lookback_days must be a whole number, got 2.0"),
        ("requests_per_minute = inf", "requests_per_minute must be a whole number, got inf"),
        ("max_concurrency = nan", "max_concurrency must be a whole number, got nan"),
        (
            "rate_limit_wait_seconds = inf",
            "rate_limit_wait_seconds must be a number of seconds, got inf",
        ),
    ],
)
def test_typed_toml_values_are_refused_in_one_line_naming_key_and_file(
    tmp_path: Path, line: str, expected: str
) -> None:
    done = cli_in(with_config(tmp_path, line), "run", "--skip-models",
                  env={"CALENDLY_ACCESS_TOKEN": TOKEN})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {expected} (from .dlt/config.toml)\n"


@pytest.mark.parametrize("value", ["1.5", "true", "inf", "nan", "2.0", "seven"])
def test_the_same_values_from_the_environment_are_refused_the_same_way(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__CALENDLY__WINDOW_DAYS", value)
    with pytest.raises(ConfigError) as caught:
        resolve_settings(access_token=TOKEN)
    assert str(caught.value) == (
        f"window_days must be a whole number, got {value!r} "
        "(from the environment variable SOURCES__CALENDLY__WINDOW_DAYS)"
    )


@pytest.mark.parametrize("value", [1.5, True, float("inf"), float("nan"), 2.0])
def test_and_from_a_parameter(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(access_token=TOKEN, window_days=value)
    assert str(caught.value) == (
        f"window_days must be a whole number, got {value!r} (from the window_days argument)"
    )


@pytest.mark.parametrize("value", [True, float("inf"), float("nan"), "soon", 0])
def test_seconds_refuse_booleans_infinities_and_out_of_range(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^rate_limit_wait_seconds must be .*argument\)$"):
        resolve_settings(access_token=TOKEN, rate_limit_wait_seconds=value)


def test_whole_numbers_pass_from_every_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__CALENDLY__LOOKBACK_DAYS", " 12 ")
    settings = resolve_settings(access_token=TOKEN, window_days=7, rate_limit_wait_seconds="90")
    assert (settings.window_days, settings.lookback_days) == (7, 12)
    assert settings.rate_limit_wait_seconds == 90.0
    assert resolve_settings(access_token=TOKEN).rate_limit_wait_seconds == 900.0


# --- tokens a header cannot carry -----------------------------------------------------------

HALVES = ("abcQ7ZxJ", "defW9YkP")  # distinctive: "def" alone is in every traceback


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (f"{HALVES[0]}\n{HALVES[1]}", "contains a line break"),
        (f"{HALVES[0]} {HALVES[1]}", "contains a space"),
        (f" {HALVES[0]}{HALVES[1]}", "starts or ends with a space"),
        (f"{HALVES[0]}\x07{HALVES[1]}", "contains a control character"),
        (f"{HALVES[0]}é{HALVES[1]}", "contains a non-ASCII character"),
    ],
)
def test_a_header_unsafe_token_is_a_config_error_before_any_request_and_never_shown(
    tmp_path: Path, token: str, problem: str
) -> None:
    done = cli_in(tmp_path, "--debug", "run", "--skip-models",
                  env={"CALENDLY_ACCESS_TOKEN": token})  # fmt: skip
    everything = done.stdout + done.stderr
    assert "ConfigError" in done.stderr and problem in done.stderr, done.stderr
    assert "from the environment variable CALENDLY_ACCESS_TOKEN" in done.stderr
    assert "Connection" not in everything  # refused before anything was sent
    for half in HALVES:
        assert half not in everything
        assert half[:4] not in everything

    plain = cli_in(tmp_path, "run", "--skip-models", env={"CALENDLY_ACCESS_TOKEN": token})
    assert plain.returncode == 2
    assert plain.stderr.count("\n") == 1 and not any(h in plain.stderr for h in HALVES)


def test_a_broken_token_in_secrets_toml_names_the_file(tmp_path: Path) -> None:
    folder = with_config(tmp_path, "", secrets=f'access_token = "{HALVES[0]}\\n{HALVES[1]}"')
    done = cli_in(folder, "run", "--skip-models")
    assert done.returncode == 2
    assert done.stderr == (
        "error: access_token (from .dlt/secrets.toml) contains a line break: a token is one "
        "line of printable ASCII without spaces; copy it again (the value is not shown)\n"
    )


@pytest.mark.parametrize("key", ["client_id", "client_secret", "refresh_token"])
def test_oauth_secrets_get_the_same_check(key: str) -> None:
    values = {"client_id": "app", "client_secret": "secret", "refresh_token": "refresh"}
    values[key] = f"{HALVES[0]}\r\n{HALVES[1]}"
    with pytest.raises(ConfigError) as caught:
        resolve_settings(**values)
    assert str(caught.value).startswith(f"{key} (from the {key} argument) contains a line break")
    assert not any(half in str(caught.value) for half in HALVES)


@pytest.mark.parametrize("token", ["abc\ndef", "abc def"])
def test_the_reported_token_leaks_no_more_under_debug(tmp_path: Path, token: str) -> None:
    """The trial's case verbatim: ``--debug`` logs and the traceback quote neither half."""
    done = cli_in(tmp_path, "--debug", "run", "--skip-models",
                  env={"CALENDLY_ACCESS_TOKEN": token})  # fmt: skip
    assert "ConfigError: access_token (from the environment variable CALENDLY_ACCESS_TOKEN)" in (
        done.stderr
    )
    assert "abc" not in done.stdout + done.stderr and "def" not in done.stdout + done.stderr
