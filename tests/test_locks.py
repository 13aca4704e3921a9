"""Locks that hold: one lock per DuckDB file whatever ``--pipelines-dir`` says; ``models``
stopped by a signal exits 130 and leaves no lock behind.

A real ``run`` subprocess is held by its own rate limit (it waits up to a
minute once its budget is spent) while the other commands try the same file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from source_harness import SourceHarness, assert_matches_store

from calendly_elt.calendly import WindowProgress
from calendly_elt.cli.main import main
from calendly_elt.cli.model_commands import MODELS_INTERRUPTED
from calendly_elt.runner import make_pipeline
from calendly_elt.runner.postgres_lock import APPLICATION_PREFIX, WarehouseLockLostError
from calendly_elt.runner.warehouse_lock import lock_files, warehouse_lock_holder
from calendly_elt.simulator import SimConfig, Simulator, generate_organization

CLI = [sys.executable, "-m", "calendly_elt.cli.main"]
BUDGET = 20  # requests per minute of the held run


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Simulator, dict]]:
    """A tiny organization served on 127.0.0.1, and the environment of a CLI subprocess."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(
        generate_organization(seed=3, size="tiny", now=now), SimConfig(requests_per_minute=100_000)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    env.update(CALENDLY_ACCESS_TOKEN=simulator.admin_token, RUNTIME__LOG_LEVEL="ERROR")
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        env["CALENDLY_BASE_URL"] = base_url
        yield simulator, env


@contextmanager
def held_run(simulator: Simulator, env: dict, cwd: Path, *args: str) -> Iterator[subprocess.Popen]:
    """``calendly-elt run ARGS`` in a subprocess, held by its rate limit mid-extraction."""
    started_at = simulator.stats.total
    run = subprocess.Popen(
        [*CLI, "run", *args],
        cwd=cwd,
        env={**env, "SOURCES__CALENDLY__REQUESTS_PER_MINUTE": str(BUDGET)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # until the minute's budget is spent (bounded: 2 min)
            if simulator.stats.total - started_at >= BUDGET or run.poll() is not None:
                break
            time.sleep(0.1)
        assert run.poll() is None, "the run ended before the rate limit held it"
        yield run
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()


def _cli(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def test_a_run_with_its_own_pipelines_dir_keeps_every_command_off_its_duckdb_file(
    served: tuple[Simulator, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, env = served
    first = _cli(env, tmp_path, "run", "--duckdb", "org.duckdb", "--pipelines-dir", "state_a")
    assert first.returncode == 0, first.stderr
    database_lock = tmp_path / ".org.duckdb.dlt" / "calendly.lock"

    args = ("--duckdb", "org.duckdb", "--pipelines-dir", "state_a", "--full-refresh")
    with held_run(simulator, env, tmp_path, *args, "--skip-models") as run:
        assert database_lock.exists()  # keyed on the file, not on the run's state folder
        results = {
            name: (main(argv), capsys.readouterr())
            for name, argv in {
                "models": ["models", "--duckdb", "org.duckdb"],
                "models-b": ["models", "--duckdb", "org.duckdb", "--pipelines-dir", "state_b"],
                "report": ["report", "--duckdb", "org.duckdb"],
                "report-b": ["report", "--duckdb", "org.duckdb", "--pipelines-dir", "state_b"],
                "run": ["run", "--duckdb", "org.duckdb", "--skip-models"],
                "status": ["status", "--duckdb", "org.duckdb"],
            }.items()
        }
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)

    assert run.returncode == 130, err
    refused = f"error: another run (pid {run.pid} on "
    for name in ("models", "models-b", "run"):
        code, out = results[name]
        assert code == 3, (name, out.err)
        assert out.err.startswith(refused), name
        assert f"holds the pipeline lock {database_lock.resolve()};" in out.err
        assert out.err.count("\n") == 1
    for name in ("report", "report-b"):
        code, out = results[name]
        assert code == 3, (name, out.err)
        assert out.err.startswith(f"error: a run (pid {run.pid}) is loading org.duckdb: "), name
        assert out.out == ""
    code, out = results["status"]
    assert code == 0, out.err
    assert out.out.splitlines()[1].startswith(f"run in progress (pid {run.pid}, started ")

    # the run is gone and so is its lock: models and report work again
    assert not database_lock.exists()
    assert main(["models", "--duckdb", "org.duckdb"]) == 0
    assert main(["report", "--duckdb", "org.duckdb"]) == 0


def test_the_lock_files_of_a_duckdb_pipeline_include_the_files_own_whatever_the_state_folder(
    tmp_path: Path,
) -> None:
    database_lock = tmp_path / ".org.duckdb.dlt" / "calendly.lock"
    default = make_pipeline(duckdb_path=tmp_path / "org.duckdb")
    elsewhere = make_pipeline(duckdb_path=tmp_path / "org.duckdb", pipelines_dir=tmp_path / "x")
    assert lock_files(default) == [database_lock]  # the default state folder is beside the file
    assert lock_files(elsewhere) == [database_lock, tmp_path / "x" / "calendly.lock"]
    assert warehouse_lock_holder(default) is None


_SLOW_MODELS = textwrap.dedent(
    """
    import sys, time
    import calendly_elt.models.runner as runner
    from calendly_elt.cli.main import main

    checked = runner._check_sources_loaded

    def slow_build(client, catalog):  # the build has begun: hold it here
        checked(client, catalog)
        print("building", flush=True)
        time.sleep(120)

    runner._check_sources_loaded = slow_build
    sys.exit(main(["models", "--duckdb", sys.argv[1]]))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_models_build_exits_130_with_one_line_and_releases_the_lock(
    signum: int, tiny_harness: SourceHarness, tmp_path: Path
) -> None:
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    database = tmp_path / "calendly_test.duckdb"
    [lock] = lock_files(pipeline)
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "ERROR"}
    with subprocess.Popen(
        [sys.executable, "-c", _SLOW_MODELS, str(database)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as build:
        assert build.stdout is not None
        try:
            line = build.stdout.readline()
            assert line == "building\n", build.communicate(timeout=60)
            holder = warehouse_lock_holder(pipeline)
            assert holder is not None and holder.pid == build.pid
            build.send_signal(signum)
            out, err = build.communicate(timeout=60)
        finally:
            if build.poll() is None:
                build.kill()

    assert build.returncode == 130, err
    assert err == MODELS_INTERRUPTED + "\n"
    assert "built" not in out
    assert not lock.exists()
    assert warehouse_lock_holder(pipeline) is None


@pytest.fixture
def fresh_postgres_database(postgres_dsn: str) -> Iterator[str]:
    """A database of its own on the test server (the CLI always loads dataset ``calendly``)."""
    import psycopg2

    name = f"calendly_locks_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_dsn)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'create database "{name}"')
    try:
        yield urlunsplit(urlsplit(postgres_dsn)._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def _raw_counts(dsn: str) -> dict[str, tuple[int, int]]:
    import psycopg2

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        counts = {}
        for table in ("scheduled_events", "invitees"):
            cursor.execute(
                f"select count(*), count(case when is_deleted then 1 end) from calendly.{table}"
            )
            total, deleted = cursor.fetchone()
            counts[table] = (int(total), int(deleted))
    connection.close()
    return counts


@pytest.mark.postgres
def test_two_runs_from_two_state_folders_on_one_postgres_database_never_overlap(
    served: tuple[Simulator, dict],
    fresh_postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    simulator, env = served
    env["DESTINATION__POSTGRES__CREDENTIALS"] = fresh_postgres_database
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", fresh_postgres_database)
    postgres = ("--destination", "postgres", "--skip-models")

    # host A's run holds the lock; host B (another state folder) and a models build try
    with held_run(simulator, env, tmp_path, *postgres, "--pipelines-dir", "state_a") as run:
        second = _cli(env, tmp_path, "run", *postgres, "--pipelines-dir", "state_b")
        models = main(["models", "--destination", "postgres", "--pipelines-dir", "state_c"])
        models_err = capsys.readouterr().err
        status = main(["status", "--destination", "postgres", "--pipelines-dir", "state_c"])
        status_out = capsys.readouterr().out
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)

    assert run.returncode == 130, err
    refused = f"error: another run (pid {run.pid} on {socket.gethostname()}, since "
    loading = " is loading the dataset 'calendly' in this PostgreSQL database; wait for it to end\n"
    assert second.returncode == 3, second.stderr
    assert second.stderr.startswith(refused) and second.stderr.endswith(loading)
    assert second.stderr.count("\n") == 1
    assert models == 3, models_err
    assert models_err.startswith(refused) and models_err.endswith(loading)
    # status from a third state folder sees the run in the database itself
    assert status == 0
    assert status_out.splitlines()[1].startswith(f"run in progress (pid {run.pid}, started ")

    # one after the other, each from its own state folder: nothing marked deleted wrongly
    for folder in ("state_b", "state_a"):
        done = _cli(env, tmp_path, "run", *postgres, "--pipelines-dir", folder)
        assert done.returncode == 0, done.stderr
    store = simulator.store
    assert _raw_counts(fresh_postgres_database) == {
        "scheduled_events": (len(store.events), 0),
        "invitees": (len(store.invitees), 0),
    }


@pytest.mark.postgres
def test_a_run_whose_lock_session_drops_stops_before_loading_and_a_rerun_finishes(
    tiny_harness: SourceHarness,
    postgres_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg2

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    dataset = f"calendly_lock_{uuid.uuid4().hex[:8]}"
    pipeline = make_pipeline(
        destination="postgres", pipelines_dir=tmp_path / "state", dataset_name=dataset
    )
    admin = psycopg2.connect(postgres_dsn)
    admin.autocommit = True
    ours = f"{APPLICATION_PREFIX} pid {os.getpid()} on %"

    def cut_the_lock_session(update: WindowProgress) -> None:
        if update.windows_done == 1:  # e.g. a network cut or an administrator
            with admin.cursor() as cursor:
                cursor.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where application_name like %s",
                    (ours,),
                )
                assert cursor.fetchall() == [(True,)]

    try:
        settings = tiny_harness.settings(checkpoint_events=1)
        with pytest.raises(WarehouseLockLostError, match="lost the PostgreSQL warehouse lock"):
            tiny_harness.run(pipeline, settings=settings, progress=cut_the_lock_session)
        with admin.cursor() as cursor:  # the first checkpoint was not loaded without the lock
            cursor.execute(
                "select count(*) from information_schema.tables where table_schema = %s"
                " and table_name = 'scheduled_events'",
                (dataset,),
            )
            assert cursor.fetchone() == (0,)
        summary = tiny_harness.run(pipeline, settings=settings)
        assert summary.events == len(tiny_harness.store.events)
        assert_matches_store(pipeline, tiny_harness.store, ("scheduled_events", "invitees"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop schema if exists "{dataset}" cascade')
        admin.close()
