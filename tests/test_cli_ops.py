"""The CLI as operators use it: -h, --version, flags, --quiet, --log-format json, progress."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from test_run_history import BROKEN_TOKEN, served

from calendly_elt.calendly.helpers.windows import Window
from calendly_elt.calendly.run_options import WindowProgress
from calendly_elt.cli import logs, progress
from calendly_elt.cli.main import _register_commands, app, main
from calendly_elt.simulator import Simulator

__all__ = ["served"]  # the fixture, shared with the run-history tests

CLI = [sys.executable, "-m", "calendly_elt.cli.main"]


def _command_paths() -> list[list[str]]:
    """Every command and group of the app, as argument lists."""
    _register_commands()
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(group: Any, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            paths.append([*prefix, name])
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])

    walk(root, [])
    return paths


def test_every_command_takes_h_and_help_and_shows_no_bool_metavar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = _command_paths()
    assert ["sim", "serve"] in paths and ["run"] in paths
    for path in paths:
        for flag in ("-h", "--help"):
            assert main([*path, flag]) == 0, path
            out = capsys.readouterr().out
            assert out.startswith("Usage: calendly-elt"), (path, out)
            assert "<bool>" not in out, path
    assert main(["run", "-h"]) == 0
    assert "  --full-refresh  " in capsys.readouterr().out


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"calendly-elt {version('calendly-elt')}\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=180
    )


CHART_LIBRARIES = ("matplotlib", "pandas")


def test_commands_that_draw_nothing_do_not_import_the_chart_libraries() -> None:
    """matplotlib and pandas cost 1.4 s per invocation: only ``report --html`` loads them."""
    probe = (
        "import sys\n"
        "from calendly_elt.cli.main import main\n"
        "sys.argv = ['calendly-elt', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {CHART_LIBRARIES!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_quiet_prints_nothing_on_success_and_only_the_error_on_failure(
    served: Simulator, tmp_path: Path
) -> None:
    done = _cli("--quiet", "run", "--duckdb", "org.duckdb", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")

    env_token = os.environ["CALENDLY_ACCESS_TOKEN"]
    os.environ["CALENDLY_ACCESS_TOKEN"] = BROKEN_TOKEN
    try:
        failed = _cli("-q", "run", "--duckdb", "org.duckdb", cwd=tmp_path)
    finally:
        os.environ["CALENDLY_ACCESS_TOKEN"] = env_token
    assert failed.returncode != 0 and failed.stdout == ""
    assert failed.stderr.startswith("error: ") and len(failed.stderr.splitlines()) == 1
    assert BROKEN_TOKEN not in failed.stderr


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line), line
    return lines


def test_log_format_json_makes_every_stderr_line_a_json_object(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = _cli("--log-format", "json", "-v", "run", "--duckdb", "org.duckdb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = _json_lines(done.stderr)
    windows = [line for line in lines if line["logger"] == "calendly_elt.progress"]
    assert windows[-1]["windows_done"] == windows[-1]["windows_total"] == 38
    assert any(
        line["level"] == "INFO" and line["logger"].startswith("calendly_elt") for line in lines
    )

    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", BROKEN_TOKEN)
    failed = _cli("--log-format", "json", "run", "--duckdb", "org.duckdb", cwd=tmp_path)
    assert failed.returncode != 0
    last = _json_lines(failed.stderr)[-1]
    assert last["level"] == "ERROR" and last["exit_code"] == failed.returncode
    assert BROKEN_TOKEN not in failed.stderr


def test_json_log_lines_carry_extra_fields_and_are_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        logs.configure_logging(logging.INFO, "json")
        logging.getLogger("calendly_elt.test").warning(
            "sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
            extra={"windows": 3},
        )
        (line,) = _json_lines(capsys.readouterr().err)
    finally:
        logs.configure_logging(logging.WARNING, "text")
    assert line["level"] == "WARNING" and line["logger"] == "calendly_elt.test"
    assert line["windows"] == 3
    assert "eyJ" not in line["message"] and "Bearer ***" in line["message"]


def test_bad_log_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-format", "xml", "status"]) == 2
    assert "--log-format" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _update(done: int, total: int = 4) -> WindowProgress:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=30 * done)
    return WindowProgress(
        kind="backfill",
        window=Window(start, start + timedelta(days=30)),
        windows_done=done,
        windows_total=total,
        events=10 * done,
        invitee_calls=done,
        requests=2 * done,
    )


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert progress.progress_mode(_Terminal()) == "bar"
    assert progress.progress_mode(io.StringIO()) == "lines"
    monkeypatch.setenv("TERM", "dumb")
    assert progress.progress_mode(_Terminal()) == "lines"
    monkeypatch.setitem(logs._settings, "quiet", True)
    assert progress.progress_mode(_Terminal()) == "off"

    plain = io.StringIO()
    show = progress.progress_printer(plain, mode="lines")
    for done in range(1, 5):
        show(_update(done))
    assert plain.getvalue().splitlines()[-1] == (
        "backfill: window 4/4 (2026-05-01) - 40 events, 4 invitee calls, 8 requests"
    )
    assert "\r" not in plain.getvalue()

    terminal = _Terminal()
    show = progress.progress_printer(terminal, mode="bar")
    show(_update(2))
    assert terminal.getvalue().startswith("\rbackfill [" + "#" * 12 + "." * 12 + "] 2/4 windows")
    show(_update(4))
    assert terminal.getvalue().endswith("\n")
    assert progress.progress_bar(0, 0) == "[" + "#" * progress.BAR_WIDTH + "]"


def test_a_member_token_gets_advice_on_scope_user_and_runs_with_it(
    served: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", served.member_token)
    assert main(["run", "--duckdb", "member.duckdb", "--skip-models"]) == 1
    err = capsys.readouterr().err
    assert 'scope = "user" under [sources.calendly] in .dlt/config.toml' in err
    assert "SOURCES__CALENDLY__SCOPE=user" in err

    monkeypatch.setenv("SOURCES__CALENDLY__SCOPE", "user")
    assert main(["run", "--duckdb", "member.duckdb", "--skip-models"]) == 0


def test_the_demo_turns_dlt_telemetry_off_and_says_its_clock_is_fixed(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "RUNTIME__DLTHUB_TELEMETRY"}
    script = (
        "import contextlib, io\n"
        "from dlt.common.runtime import anon_tracker\n"
        "from calendly_elt.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['demo', '--size', 'tiny'])\n"
        "print(code, anon_tracker._ANON_TRACKER_ENDPOINT)\n"
        "print(out.getvalue())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    first, *printed = done.stdout.splitlines()
    assert first.split() == ["0", "None"], done.stderr
    clock = "its clock is fixed at 2026-01-15 12:00:00 UTC (the same every demo)"
    assert any(line.startswith(clock) for line in printed), printed
    assert "as_of: 2026-01-15 12:00:00 UTC (outcomes judged at this instant)" in printed
