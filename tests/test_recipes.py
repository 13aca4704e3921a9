"""The scheduling recipes under ``recipes/``: the command they run, run as a scheduler runs it.

The cron line and both GitHub Actions workflows call ``recipes/run-scheduled.sh``;
the tests here run that very file as a subprocess against ``calendly-elt sim
serve`` on 127.0.0.1, from a temporary folder (where the warehouse lands, as
in the checkout a scheduler runs in). The Dagster definitions are materialized
in ``test_recipes_dagster.py``; the Airflow DAG (Airflow is not installed) is
compiled and checked for what it runs.
"""

from __future__ import annotations

import ast
import os
import py_compile
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from test_sim_serve import read_lines

from calendly_elt.runner import lock_path, make_pipeline, pipeline_lock
from calendly_elt.simulator import generate_organization
from calendly_elt.simulator.ground_truth import compute_ground_truth
from calendly_elt.simulator.store import Store

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
SCHEDULED = RECIPES / "run-scheduled.sh"
CRON = RECIPES / "cron" / "calendly-elt.cron"
WORKFLOWS = sorted((RECIPES / "github-actions").glob("*.yml"))
AIRFLOW_DAG = RECIPES / "airflow" / "calendly_dag.py"
CALENDLY_ELT = Path(sys.executable).parent / "calendly-elt"
SEED, SIZE = 3, "tiny"
DATABASE = "calendly_warehouse.duckdb"  # the default file: the recipes pass no --duckdb
MARTS = ("fct_bookings", "fct_meetings", "metrics_utm_attribution", "metrics_no_shows")


@dataclass(frozen=True)
class Served:
    """``calendly-elt sim serve`` running: where it answers, its admin token, its data."""

    base_url: str
    token: str
    store: Store


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A tiny organization served by ``calendly-elt sim serve``, history up to this hour."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    command = [str(CALENDLY_ELT), "sim", "serve", "--port", "0", "--size", SIZE,
               "--seed", str(SEED), "--now", now.isoformat(), "--no-webhooks",
               "--requests-per-minute", "100000"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        base_line, token_line = read_lines(process.stdout, 2, timeout=60)
        store = generate_organization(seed=SEED, size=SIZE, now=now)
        token = token_line.split("=", 1)[1]
        assert token == store.admin_token
        yield Served(base_line.split("=", 1)[1], token, store)
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_scheduled(
    folder: Path, served: Served, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the recipes' command in ``folder`` as cron would: its own environment, no stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    env.update(
        CALENDLY_BASE_URL=served.base_url,
        CALENDLY_ACCESS_TOKEN=token,
        CALENDLY_ELT_BIN=str(CALENDLY_ELT),
        SOURCES__CALENDLY__REQUESTS_PER_MINUTE="100000",
        RUNTIME__DLTHUB_TELEMETRY="false",
    )
    return subprocess.run(
        ["/bin/sh", str(SCHEDULED), *args],
        cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def _count(database: Path, table: str) -> int:
    with duckdb.connect(str(database), read_only=True) as connection:
        return int(connection.execute(f"select count(*) from {table}").fetchone()[0])  # type: ignore[index]


def assert_run_history_records_failure(database: Path, error_line: str) -> None:
    """The failed run left one row in run history with its outcome and error, and no events."""
    with duckdb.connect(str(database), read_only=True) as connection:
        runs = connection.execute(
            "select command, outcome, exit_code, error from calendly.run_history"
        ).fetchall()
        loaded = connection.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'calendly' and table_name = 'scheduled_events'"
        ).fetchone()
    assert runs == [("run", "failed", 1, error_line.removeprefix("error: "))], runs
    assert loaded == (0,), "a refused run loaded events"


def test_the_scheduled_command_loads_and_builds_the_marts(served: Served, tmp_path: Path) -> None:
    done = run_scheduled(tmp_path, served, served.token)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "--quiet: a successful run prints nothing"
    assert done.stderr == ""
    database = tmp_path / DATABASE
    store = served.store
    assert _count(database, "calendly.scheduled_events") == len(store.events)
    assert _count(database, "calendly.invitees") == len(store.invitees)
    bookings = compute_ground_truth(store, datetime.now(UTC)).bookings
    assert bookings
    assert _count(database, "calendly_analytics.fct_bookings") == len(bookings)
    assert _count(database, "calendly_analytics.fct_meetings") == len(store.events)
    for mart in MARTS:
        assert _count(database, f"calendly_analytics.{mart}") > 0, mart

    again = run_scheduled(tmp_path, served, served.token)  # the next hour's run: incremental
    assert again.returncode == 0, again.stderr
    assert _count(database, "calendly.scheduled_events") == len(store.events)


def test_a_broken_token_exits_non_zero_with_one_line_and_no_token(
    served: Served, tmp_path: Path
) -> None:
    broken = f"sim_pat_revoked_{secrets.token_hex(12)}"
    done = run_scheduled(tmp_path, served, broken)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # one line: no traceback, no progress
    assert lines[0].startswith("error: 401 Unauthenticated"), lines[0]
    assert "CALENDLY_ACCESS_TOKEN" in lines[0]  # where the refused token came from
    assert broken not in done.stderr
    assert served.token not in done.stderr
    assert_run_history_records_failure(tmp_path / DATABASE, lines[0])


def test_a_run_while_another_holds_the_lock_exits_3_without_touching_it(
    served: Served, tmp_path: Path
) -> None:
    pipeline = make_pipeline(duckdb_path=tmp_path / DATABASE)
    with pipeline_lock(lock_path(pipeline)):
        done = run_scheduled(tmp_path, served, served.token)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: ") and "holds the pipeline lock" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / DATABASE).exists()


# ---- the recipes call that command, and only that --------------------------------------


def test_the_cron_line_runs_the_scheduled_command_from_its_folder() -> None:
    entries = [
        line for line in CRON.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]  # fmt: skip
    assert len(entries) == 1
    fields = entries[0].split(None, 5)
    assert len(fields) == 6 and all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5])
    assert re.fullmatch(r"cd (\S+) && recipes/run-scheduled\.sh >> \S+ 2>&1", fields[5]), fields[5]


def test_the_script_is_one_command_with_quiet_for_schedulers() -> None:
    assert os.access(SCHEDULED, os.X_OK)
    commands = [line for line in SCHEDULED.read_text(encoding="utf-8").splitlines()
                if line.startswith("exec ")]  # fmt: skip
    assert commands == ['exec "$CALENDLY_ELT_BIN" --quiet run "$@"']


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_each_workflow_runs_the_scheduled_command_with_secrets_from_the_environment(
    workflow: Path,
) -> None:
    text = workflow.read_text(encoding="utf-8")
    parsed = yaml.safe_load(text)
    triggers = parsed[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"]
    assert parsed["concurrency"]["cancel-in-progress"] is False  # never two runs at once
    steps = [step for job in parsed["jobs"].values() for step in job["steps"]]
    runs = [step for step in steps if "recipes/run-scheduled.sh" in step.get("run", "")]
    assert len(runs) == 1
    assert runs[0]["run"].split()[0] == "recipes/run-scheduled.sh"
    assert runs[0]["env"]["CALENDLY_ACCESS_TOKEN"] == "${{ secrets.CALENDLY_ACCESS_TOKEN }}"
    # every secret arrives as `${{ secrets.NAME }}` in an env block, none is written down
    for step in steps:
        for name, value in (step.get("env") or {}).items():
            if "TOKEN" in name or "CREDENTIALS" in name or "SECRET" in name:
                assert re.fullmatch(r"\$\{\{ (secrets\.[A-Z_]+|github\.token) \}\}", value)


def test_the_duckdb_workflow_carries_the_warehouse_from_run_to_run() -> None:
    parsed = yaml.safe_load((RECIPES / "github-actions" / "calendly-elt.yml").read_text())
    steps = parsed["jobs"]["load"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert uses.index("actions/download-artifact") < uses.index("actions/upload-artifact")
    download = steps[uses.index("actions/download-artifact")]
    upload = steps[uses.index("actions/upload-artifact")]
    assert download["with"]["run-id"] == "${{ steps.previous.outputs.run-id }}"
    assert download["with"]["name"] == upload["with"]["name"]
    assert upload["with"]["path"].split() == [DATABASE, f".{DATABASE}.dlt/"]
    assert upload["with"]["include-hidden-files"] is True


def test_the_airflow_dag_compiles_and_runs_the_calendly_source() -> None:
    py_compile.compile(str(AIRFLOW_DAG), doraise=True)
    tree = ast.parse(AIRFLOW_DAG.read_text(encoding="utf-8"))
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }  # fmt: skip
    assert ("dlt.helpers.airflow_helper", "PipelineTasksGroup") in imported
    assert ("calendly_elt.calendly", "calendly_source") in imported
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree) if isinstance(node, ast.Call)
    }  # fmt: skip
    assert {"PipelineTasksGroup", "add_run", "calendly_source", "build_models"} <= called
