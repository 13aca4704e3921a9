"""``pipelines/calendly_pipeline.py``: the job and the plain dlt source, run as a script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from calendly_elt.simulator import SimConfig, Simulator, generate_organization

SCRIPT = Path(__file__).resolve().parent.parent / "pipelines" / "calendly_pipeline.py"


@pytest.fixture
def served() -> Iterator[tuple[Simulator, dict[str, str]]]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(
        generate_organization(seed=3, size="tiny", now=now), SimConfig(requests_per_minute=100_000)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    env.update(RUNTIME__LOG_LEVEL="ERROR", SOURCES__CALENDLY__REQUESTS_PER_MINUTE="100000")
    with simulator.serve() as base_url:
        env.update(CALENDLY_BASE_URL=base_url, CALENDLY_ACCESS_TOKEN=simulator.admin_token)
        yield simulator, env


def _script(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _scalar(database: Path, sql: str) -> int:
    with duckdb.connect(str(database), read_only=True) as connection:
        return int(connection.execute(sql).fetchone()[0])  # type: ignore[index]


def test_the_script_runs_the_job_and_builds_the_models(
    served: tuple[Simulator, dict[str, str]], tmp_path: Path
) -> None:
    simulator, env = served
    done = _script(tmp_path, env, "--duckdb", "org.duckdb")
    assert done.returncode == 0, done.stderr
    events = len(simulator.store.events)
    assert f"backfill: {events} events" in done.stdout
    database = tmp_path / "org.duckdb"
    assert _scalar(database, "select count(*) from calendly.scheduled_events") == events
    bookings = _scalar(database, "select count(*) from calendly_analytics.fct_bookings")
    assert bookings > 0

    again = _script(tmp_path, env, "--duckdb", "org.duckdb")
    assert again.returncode == 0, again.stderr
    assert "incremental:" in again.stdout


def test_the_source_loads_as_a_plain_dlt_source(
    served: tuple[Simulator, dict[str, str]], tmp_path: Path
) -> None:
    simulator, env = served
    done = _script(tmp_path, env, "--duckdb", "plain.duckdb", "--plain-dlt")
    assert done.returncode == 0, done.stderr
    database = tmp_path / "plain.duckdb"
    assert _scalar(database, "select count(*) from calendly.scheduled_events") == len(
        simulator.store.events
    )
    assert _scalar(database, "select count(*) from calendly.invitees") == len(
        simulator.store.invitees
    )


def test_a_bad_setting_is_one_line_not_a_traceback(
    served: tuple[Simulator, dict[str, str]], tmp_path: Path
) -> None:
    _, env = served
    done = _script(tmp_path, {**env, "SOURCES__CALENDLY__WINDOW_DAYS": "0"}, "--duckdb", "x.duckdb")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: window_days must be at least 1, got 0 "
        "(from the environment variable SOURCES__CALENDLY__WINDOW_DAYS)"
    )
