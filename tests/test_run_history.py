"""Run history: one row per run in ``calendly.run_history``, failed runs included."""

from __future__ import annotations

import json
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dlt
import pytest

from calendly_elt.cli.main import main
from calendly_elt.errors import ConfigError
from calendly_elt.runner import make_pipeline
from calendly_elt.runner.run_history import COLUMNS, read_runs, recorded_run
from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.faults import Fault, FaultConfig

BROKEN_TOKEN = "not-a-real-token-4f9c2b7e"


@contextmanager
def _serve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: SimConfig
) -> Iterator[Simulator]:
    """A tiny organization anchored at the wall clock, served on 127.0.0.1, in the env."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(generate_organization(seed=3, size="tiny", now=now), config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    monkeypatch.setenv("SOURCES__CALENDLY__REQUESTS_PER_MINUTE", "100000")
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        yield simulator


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    """A tiny organization anchored at the wall clock, served on 127.0.0.1."""
    with _serve(monkeypatch, tmp_path, SimConfig(requests_per_minute=100_000)) as simulator:
        yield simulator


def _runs(database: Path) -> list:
    return read_runs(make_pipeline(duckdb_path=database, read_only=True), 10)


def test_a_run_writes_a_succeeded_row_with_its_figures(
    served: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--duckdb", "org.duckdb"]) == 0
    capsys.readouterr()
    (run,) = _runs(tmp_path / "org.duckdb")
    assert (run.command, run.outcome, run.exit_code, run.error) == ("run", "succeeded", 0, None)
    assert run.windows == 38
    assert run.requests and run.requests > len(served.store.events)
    assert (run.retries, run.rate_limited) == (0, 0)
    assert run.rows and run.rows["scheduled_events"] == len(served.store.events)
    assert run.models_seconds is not None and run.models_seconds > 0
    assert run.started_at <= run.ended_at
    assert len(run.run_id) == 32


def test_retries_and_429s_are_counted_as_the_simulator_sent_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = FaultConfig(seed=5, error_rate=0.08, burst_every=25, burst_length=2,
                         burst_reset_seconds=0)  # fmt: skip
    sent: Counter[int] = Counter()
    config = SimConfig(requests_per_minute=100_000, faults=faults)
    with _serve(monkeypatch, tmp_path, config) as simulator:
        draw = simulator.faults.next_fault

        def counting() -> Fault:
            fault = draw()
            sent[fault.status] += 1
            return fault

        simulator.faults.next_fault = counting  # type: ignore[method-assign]
        assert main(["run", "--duckdb", "org.duckdb"]) == 0
    capsys.readouterr()
    (run,) = _runs(tmp_path / "org.duckdb")
    server_errors = sum(count for status, count in sent.items() if status and status >= 500)
    assert sent[429] > 0 and server_errors > 0, sent
    assert run.rate_limited == sent[429]
    assert run.retries == server_errors
    assert run.requests == sum(sent.values())


def test_a_broken_token_exits_non_zero_and_writes_a_failed_row(
    served: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", BROKEN_TOKEN)
    code = main(["run", "--duckdb", "org.duckdb"])
    err = capsys.readouterr().err
    assert code != 0
    printed = err.strip().splitlines()[-1]
    assert "401" in printed or "token" in printed.lower()
    (run,) = _runs(tmp_path / "org.duckdb")
    assert (run.command, run.outcome, run.exit_code) == ("run", "failed", code)
    assert run.error and printed == f"error: {run.error}"
    assert BROKEN_TOKEN not in run.error
    assert run.requests and run.requests >= 1
    assert run.rows is None and run.models_seconds is None


def test_an_interrupted_run_writes_an_interrupted_row(
    served: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("calendly_elt.runner.job.run_extraction", interrupted)
    assert main(["backfill", "--since", "2024-01-01", "--duckdb", "org.duckdb"]) == 130
    capsys.readouterr()
    (run,) = _runs(tmp_path / "org.duckdb")
    assert (run.command, run.outcome, run.exit_code) == ("backfill", "interrupted", 130)


def test_runs_are_listed_newest_first_and_status_summarises_them(
    served: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--duckdb", "org.duckdb"]) == 0
    assert main(["run", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    capsys.readouterr()
    runs = _runs(tmp_path / "org.duckdb")
    assert [run.outcome for run in runs] == ["succeeded", "succeeded"]
    assert runs[0].started_at >= runs[1].started_at
    assert (
        runs[0].windows == 15
    )  # the incremental one: 14 windows + the open one beyond the horizon

    assert main(["status", "--duckdb", "org.duckdb"]) == 0
    out = capsys.readouterr().out
    assert "last runs (newest first):" in out
    assert out.count(" run succeeded ") == 2
    assert "as_of:" in out
    assert "meetings loaded:" in out


def _record_a_failure(pipeline: dlt.Pipeline) -> None:
    with pytest.raises(ConfigError), recorded_run(pipeline, "run"):
        raise ConfigError(f"bad setting near Bearer {BROKEN_TOKEN}")


def test_a_failure_before_anything_is_loaded_is_recorded_on_duckdb(tmp_path: Path) -> None:
    pipeline = make_pipeline(duckdb_path=tmp_path / "fresh.duckdb")
    _record_a_failure(pipeline)
    (run,) = read_runs(pipeline)
    assert (run.outcome, run.exit_code) == ("failed", 2)
    assert run.error == "bad setting near Bearer ***"


@pytest.mark.postgres
def test_run_history_on_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_dsn: str
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    dataset = f"calendly_runs_{uuidlib.uuid4().hex[:8]}"
    pipeline = make_pipeline(
        destination="postgres", pipelines_dir=tmp_path / "state", dataset_name=dataset
    )
    try:
        _record_a_failure(pipeline)
        with recorded_run(pipeline, "webhooks load"):
            pass
        runs = read_runs(pipeline)
        assert [(run.command, run.outcome) for run in runs] == [
            ("webhooks load", "succeeded"),
            ("run", "failed"),
        ]
        assert runs[1].error == "bad setting near Bearer ***"
        assert runs[0].started_at.tzinfo is not None
        with pipeline.sql_client() as client:
            columns = client.execute_sql(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = 'run_history'",
                dataset,
            )
        assert {row[0] for row in columns} == {name for name, _ in COLUMNS}
    finally:
        with pipeline.sql_client() as client:
            client.execute_sql(f'drop schema if exists "{dataset}" cascade')


@pytest.mark.postgres
def test_a_broken_token_writes_a_failed_row_on_postgres(
    served: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    postgres_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    dataset = f"calendly_runs_{uuidlib.uuid4().hex[:8]}"
    monkeypatch.setenv("DATASET_NAME", dataset)
    pipeline = make_pipeline(
        destination="postgres", pipelines_dir=tmp_path / "state", dataset_name=dataset
    )
    monkeypatch.setattr(
        "calendly_elt.cli.pipeline_commands.make_pipeline", lambda **kwargs: pipeline
    )
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", BROKEN_TOKEN)
    try:
        code = main(["run", "--destination", "postgres"])
        printed = capsys.readouterr().err.strip().splitlines()[-1]
        assert code != 0
        (run,) = read_runs(pipeline)
        assert (run.outcome, run.exit_code) == ("failed", code)
        assert printed == f"error: {run.error}" and BROKEN_TOKEN not in printed
    finally:
        with pipeline.sql_client() as client:
            client.execute_sql(f'drop schema if exists "{dataset}" cascade')


def test_rows_are_json_per_table(tmp_path: Path) -> None:
    from calendly_elt.runner.run_history import RunRecord

    moment = datetime.now(UTC)
    record = RunRecord("x", "run", moment, moment, "succeeded", 0, rows={"b": 2, "a": 1})
    assert json.loads(record.values()[11]) == {"a": 1, "b": 2}


def test_each_outcome_with_its_exit_code_and_one_redacted_line() -> None:
    from calendly_elt.errors import RunInterruptedError
    from calendly_elt.runner import RecordsQuarantinedError
    from calendly_elt.runner.run_history import describe_outcome

    assert describe_outcome(None) == ("succeeded", 0, None)
    assert describe_outcome(KeyboardInterrupt()) == ("interrupted", 130, "interrupted")
    assert describe_outcome(RunInterruptedError("interrupted; rerun"))[:2] == ("interrupted", 130)
    quarantined = describe_outcome(RecordsQuarantinedError("2 record(s) quarantined"))
    assert quarantined == ("quarantined", 4, "2 record(s) quarantined")
    assert describe_outcome(ConfigError("first\nsecond")) == ("failed", 2, "first")
    bug = describe_outcome(ValueError(f"access_token={BROKEN_TOKEN}\nmore"))
    assert bug == ("failed", 1, "ValueError: access_token=***")
