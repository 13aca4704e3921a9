"""``calendly-elt run | backfill | demo | status`` as a user runs them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from calendly_elt.cli.main import main
from calendly_elt.errors import ConfigError
from calendly_elt.runner import (
    ExtractionError,
    LockHolder,
    job,
    live_lock_holder,
    lock_path,
    make_pipeline,
    pipeline_lock,
)
from calendly_elt.simulator import SimConfig, Simulator, generate_organization

CLI = [sys.executable, "-m", "calendly_elt.cli.main"]
INTERRUPTED = "interrupted; rerun to resume from the last checkpoint"


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALENDLY_")}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_demo_as_a_subprocess_loads_builds_and_reports(tmp_path: Path) -> None:
    store = generate_organization(seed=7, size="small")  # what the demo serves
    events, invitees = len(store.events), len(store.invitees)
    done = _cli("demo", cwd=tmp_path)
    # 38 windows: two years back and a year ahead in 30-day windows, plus the open one beyond

    assert done.returncode == 0, done.stderr
    assert f"backfill done: 38 windows, {events} events, {events} invitee calls" in done.stdout
    counts = {
        line.split()[0]: line.split()[1:]
        for line in done.stdout.splitlines()
        if line.startswith(("scheduled_events ", "invitees ", "users "))
    }
    assert counts["scheduled_events"] == [str(events), "0"]
    assert counts["invitees"] == [str(invitees), "0"]
    assert "Top UTM sources" in done.stdout
    assert "backfill: window 38/38" in done.stderr
    assert (tmp_path / "calendly_warehouse.duckdb").exists()

    status = _cli("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "last successful run: 2026-01-15 12:00:00 UTC" in status.stdout
    assert "start times covered: 2024-01-15 onwards" in status.stdout
    requests = done.stdout.split(" invitee calls, ")[1].split()[0]  # every request of the run
    assert f"38 windows, {events} events, {events} invitee calls, {requests} requests" in (
        status.stdout
    )

    again = _cli("demo", cwd=tmp_path)  # a demo database is rebuilt from scratch
    assert again.returncode == 0, again.stderr
    assert f"backfill done: 38 windows, {events} events" in again.stdout


def test_demo_refuses_to_overwrite_a_database_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.duckdb").write_bytes(b"precious")
    done = _cli("demo", "--duckdb", "mine.duckdb", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: mine.duckdb exists")
    assert (tmp_path / "mine.duckdb").read_bytes() == b"precious"


def test_run_without_credentials_fails_with_one_line(tmp_path: Path) -> None:
    done = _cli("run", "--skip-models", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: no Calendly credentials: set CALENDLY_ACCESS_TOKEN (a personal access token) "
        "or CALENDLY_CLIENT_ID + CALENDLY_CLIENT_SECRET + CALENDLY_REFRESH_TOKEN (an OAuth app), "
        "or the same keys under [sources.calendly] in .dlt/secrets.toml"
    )


@pytest.fixture
def served_org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    """A tiny organization anchored at the wall clock, served on 127.0.0.1."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = generate_organization(seed=3, size="tiny", now=now)
    simulator = Simulator(store, SimConfig(requests_per_minute=100_000))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    monkeypatch.setenv("SOURCES__CALENDLY__REQUESTS_PER_MINUTE", "100000")
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        yield simulator


def test_run_then_backfill_then_full_refresh_over_http(
    served_org: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = len(served_org.store.events)

    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    out = capsys.readouterr()
    assert f"backfill done: 38 windows, {events} events" in out.out
    assert "window 38/38" in out.err

    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    assert "incremental done: 15 windows" in capsys.readouterr().out

    since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    assert main(["backfill", "--since", since, "--duckdb", "org.duckdb", "--skip-models"]) == 0
    assert "since done: 16 windows" in capsys.readouterr().out

    assert main(["run", "--full-refresh", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    out = capsys.readouterr().out
    assert f"full_refresh done: 38 windows, {events} events, {events} invitee calls" in out

    assert main(["status", "--duckdb", "org.duckdb"]) == 0
    status = capsys.readouterr().out
    assert "last run: full_refresh" in status
    rows = {line.split()[0]: line.split()[1:] for line in status.splitlines() if line}
    assert rows["scheduled_events"] == [str(events), "0"]


def test_a_second_run_while_one_holds_the_lock_exits_with_a_clear_error(
    served_org: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = make_pipeline(duckdb_path=tmp_path / "org.duckdb")
    with pipeline_lock(lock_path(pipeline)):
        code = main(["run", "--duckdb", "org.duckdb", "--skip-models"])
    assert code == 3
    assert "holds the pipeline lock" in capsys.readouterr().err


def test_bad_option_values_are_config_errors(
    served_org: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["backfill", "--since", "last tuesday", "--skip-models"]) == 2
    assert "--since must be a date like 2024-01-31" in capsys.readouterr().err
    assert main(["run", "--duckdb", "/proc/no/such/x.duckdb", "--skip-models"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: cannot create the folder of --duckdb /proc/no/such/x.duckdb:"
    )
    assert main(["run", "--duckdb", "calendly.duckdb", "--skip-models"]) == 2
    assert "cannot hold the dataset 'calendly'" in capsys.readouterr().err
    assert main(["run", "--destination", "nosuch", "--skip-models"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown destination 'nosuch': not a dlt destination name (e.g. duckdb, "
        "postgres, bigquery, snowflake) nor a named destination configured under "
        "[destination.nosuch]\n"
    )
    monkeypatch.setenv("SOURCES__CALENDLY__START_DATE", "2099-01-01")
    assert main(["run", "--skip-models"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: start_date 2099-01-01 is after now + horizon_days"
    )


def test_a_bad_token_store_path_fails_before_the_oauth_refresh_token_is_used(
    served_org: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served_org.register_oauth_client("cli-app", "cli-app-secret", "http://127.0.0.1/callback")
    owner = served_org.store.personal_access_tokens[served_org.admin_token]
    refresh = served_org.issue_oauth_tokens(owner, "cli-app")["refresh_token"]
    monkeypatch.delenv("CALENDLY_ACCESS_TOKEN")
    monkeypatch.setenv("CALENDLY_CLIENT_ID", "cli-app")
    monkeypatch.setenv("CALENDLY_CLIENT_SECRET", "cli-app-secret")
    monkeypatch.setenv("CALENDLY_REFRESH_TOKEN", refresh)
    monkeypatch.setenv("CALENDLY_AUTH_BASE_URL", os.environ["CALENDLY_BASE_URL"])
    (tmp_path / "typo").write_text("")  # a file where the store's folder should be
    bad = tmp_path / "typo" / "tok.json"
    monkeypatch.setenv("SOURCES__CALENDLY__TOKEN_STORE_PATH", str(bad))

    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write the OAuth token store {bad} (")
    assert err.endswith("the refresh token was not used and is still valid\n")
    assert err.count("\n") == 1
    assert served_org.stats["POST /oauth/token"] == 0

    # the authorization survived: fix the path and the same refresh token works
    monkeypatch.setenv("SOURCES__CALENDLY__TOKEN_STORE_PATH", str(tmp_path / "tok.json"))
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    assert served_org.stats["POST /oauth/token"] == 1


class StepFailedError(Exception):
    """Like dlt's PipelineStepFailed: the KeyboardInterrupt it caught is in ``exception``."""

    def __init__(self, exception: BaseException) -> None:
        super().__init__("Pipeline execution failed at `step=extract`")
        self.exception = exception


def _wrapped_by_dlt() -> BaseException:
    return StepFailedError(KeyboardInterrupt())


def _one_line_error_from_dlt() -> BaseException:
    error = ExtractionError("extracting from Calendly failed: KeyboardInterrupt: ")
    error.__cause__ = StepFailedError(KeyboardInterrupt())
    return error


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt, _wrapped_by_dlt, _one_line_error_from_dlt],
    ids=["bare", "wrapped-by-dlt", "as-extraction-error"],
)
def test_an_interrupted_run_exits_130_with_one_line_however_it_arrives(
    interrupt: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted_run(*args: Any, **kwargs: Any) -> None:
        raise interrupt()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "pat")
    monkeypatch.setattr("calendly_elt.runner.job.run_extraction", interrupted_run)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 130
    assert capsys.readouterr().err == INTERRUPTED + "\n"
    assert main(["backfill", "--since", "2025-01-01", "--skip-models"]) == 130
    assert capsys.readouterr().err == INTERRUPTED + "\n"
    assert {number: signal.getsignal(number) for number in handlers} == handlers  # restored


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_rate_limited_run_at_once_and_a_rerun_finishes(
    signum: int, tmp_path: Path
) -> None:
    budget = 20  # requests per minute: the run soon waits up to a minute for the limiter
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(
        generate_organization(seed=3, size="tiny", now=now),
        SimConfig(requests_per_minute=100_000),
    )
    events = len(simulator.store.events)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    env["RUNTIME__LOG_LEVEL"] = "ERROR"
    with simulator.serve() as base_url:
        env.update(CALENDLY_BASE_URL=base_url, CALENDLY_ACCESS_TOKEN=simulator.admin_token)
        env["SOURCES__CALENDLY__REQUESTS_PER_MINUTE"] = str(budget)
        run = subprocess.Popen(
            [*CLI, "run", "--skip-models"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(6000):  # until the minute's budget is spent (bounded: 10 min)
                if simulator.stats.total >= budget or run.poll() is not None:
                    break
                time.sleep(0.1)
            assert run.poll() is None, "the run ended before the rate limit held it"
            run.send_signal(signum)
            _, err = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        assert run.returncode == 130, err
        assert err.splitlines()[-1] == INTERRUPTED
        assert "error" not in err and "Traceback" not in err

        env["SOURCES__CALENDLY__REQUESTS_PER_MINUTE"] = "100000"
        rerun = subprocess.run(
            [*CLI, "run", "--skip-models"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert rerun.returncode == 0, rerun.stderr
    assert f"backfill done: 38 windows, {events} events" in rerun.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backfill"], "error: Missing option '--since'. (see calendly-elt backfill --help)"),
        (["run", "--bogus"], "error: No such option: --bogus (see calendly-elt run --help)"),
        (["nosuchcmd"], "error: No such command 'nosuchcmd'. (see calendly-elt --help)"),
        (
            ["demo", "--seed", "abc"],
            "error: Invalid value for '--seed': Input should be a valid integer, unable to "
            "parse string as an integer (see calendly-elt demo --help)",
        ),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n"
    assert captured.out == ""


def test_help_and_no_arguments_show_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "backfill" in capsys.readouterr().out
    assert main([]) == 2  # no command: the help, as a usage error
    assert "status" in capsys.readouterr().out


def test_debug_shows_the_traceback_instead_of_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith(("CALENDLY_", "SOURCES__"))]:
        monkeypatch.delenv(name)
    assert main(["run", "--skip-models"]) == 2
    assert capsys.readouterr().err.startswith("error: no Calendly credentials")
    httpx_level = logging.getLogger("httpx").level
    try:
        with pytest.raises(ConfigError, match="no Calendly credentials"):
            main(["--debug", "run", "--skip-models"])
    finally:
        logging.getLogger("httpx").setLevel(httpx_level)  # --debug turned it up


_HOLD_DUCKDB = textwrap.dedent(
    """
    import sys
    import duckdb
    from calendly_elt.runner import lock_path, make_pipeline, pipeline_lock
    database, holder = sys.argv[1], sys.argv[2]
    lock = pipeline_lock(lock_path(make_pipeline(duckdb_path=database)))
    if holder == "run":
        lock.__enter__()
    # read-write: no other process can open the file; read-only: other readers can
    connection = duckdb.connect(database, read_only=holder == "reader")
    print("holding", flush=True)
    sys.stdin.read()
    """
)


@contextmanager
def _holding_duckdb(database: Path, holder: str) -> Iterator[int]:
    """Another process with ``database`` open: a ``run`` (read-write, with the pipeline
    lock), a ``notebook`` (read-write) or a ``reader`` (read-only)."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_DUCKDB, str(database), holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            assert process.stdout.readline() == "holding\n"
            yield process.pid
        finally:
            process.stdin.close()


def test_status_during_a_run_reports_it_without_opening_the_database(
    served_org: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = len(served_org.store.events)
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    requests = int(capsys.readouterr().out.split(" invitee calls, ")[1].split()[0])

    with _holding_duckdb(tmp_path / "org.duckdb", "run") as pid:
        code = main(["status", "--duckdb", "org.duckdb"])
        out = capsys.readouterr()
        # the database was really out of reach
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(tmp_path / "org.duckdb"), read_only=True)
        # models and report do not even try: opening the file would break the run
        assert main(["report", "--duckdb", "org.duckdb"]) == 3
        assert f"a run (pid {pid}) is loading org.duckdb" in capsys.readouterr().err
        assert main(["models", "--duckdb", "org.duckdb"]) == 3
        assert f"another run (pid {pid} on " in capsys.readouterr().err

    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[1].startswith(f"run in progress (pid {pid}, started ")
    assert lines[1].endswith(" UTC): figures below are from its last checkpoint")
    assert lines[2].startswith("last successful run: 20") and lines[2].endswith(" UTC")
    assert lines[3].startswith("last run: backfill ")
    assert lines[3].endswith(
        f", 38 windows, {events} events, {events} invitee calls, {requests} requests"
    )
    assert lines[-1] == (
        "row counts: not read while a run is in progress (status again once it ends)"
    )
    assert out.err == ""


def test_a_duckdb_file_open_in_another_process_is_one_line_for_every_command(
    served_org: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    capsys.readouterr()
    database = (tmp_path / "org.duckdb").resolve()

    with _holding_duckdb(database, "notebook") as pid:  # no pipeline lock
        results = {
            command: (main([command, "--duckdb", "org.duckdb", *extra]), capsys.readouterr().err)
            for command, extra in [
                ("status", []),
                ("run", ["--skip-models"]),
                ("models", []),
                ("report", []),
            ]
        }

    message = (
        f"error: the DuckDB file {database} is in use by another process (pid {pid}: a run, "
        "a notebook or a duckdb shell): close it and retry\n"
    )
    assert results == {command: (3, message) for command in results}
    assert main(["status", "--duckdb", "org.duckdb"]) == 0  # closed: it answers again
    assert "last run: backfill" in capsys.readouterr().out


def test_status_opens_the_duckdb_file_read_only(
    served_org: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    capsys.readouterr()

    with _holding_duckdb(tmp_path / "org.duckdb", "reader"):  # readers share the file
        code = main(["status", "--duckdb", "org.duckdb"])
        out = capsys.readouterr()

    assert code == 0, out.err
    rows = {line.split()[0]: line.split()[1:] for line in out.out.splitlines() if line}
    assert rows["scheduled_events"] == [str(len(served_org.store.events)), "0"]


def test_run_holds_the_lock_until_its_models_are_built(
    served_org: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a status between the load and the models build would open the file the build needs
    holders: list[LockHolder | None] = []

    def build_models(pipeline: Any, as_of: datetime | None) -> SimpleNamespace:
        holders.append(live_lock_holder(lock_path(pipeline)))
        return SimpleNamespace(models=["stub"], seconds=0.1)

    monkeypatch.setattr(job, "build_models", build_models)
    assert main(["run", "--duckdb", "org.duckdb"]) == 0
    assert "models built: 1" in capsys.readouterr().out

    assert [(holder.pid, holder.on_this_host) if holder else None for holder in holders] == [
        (os.getpid(), True)
    ]
    assert live_lock_holder(lock_path(make_pipeline(duckdb_path=tmp_path / "org.duckdb"))) is None
