"""The same SQL built by dbt (dbt-duckdb) and by the embedded runner: same marts, same tests.

One ``dbt build`` on a loaded ``small`` organization per session; the broken-key
tests use the ``tiny`` one. dbt writes its profile, ``target/`` and ``logs/``
to temporary folders, never under ``sql/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from model_fixtures import MART_KEYS, MARTS, duckdb_pipeline, load_store, snapshot_marts

from calendly_elt.cli.main import main
from calendly_elt.models.catalog import load_catalog
from calendly_elt.models.dbt_build import DbtBuildResult, build_with_dbt
from calendly_elt.models.project import SQL_ROOT
from calendly_elt.models.runner import build_models, run_sql_tests
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

if os.environ.get("CI") != "true":  # CI installs the [dbt] extra with [dev]: never skip there
    pytest.importorskip("dbt.adapters.duckdb", reason="pip install 'calendly-elt[dbt]'")

AS_OF = DEFAULT_NOW
AS_OF_TEXT = "2026-01-15T12:00:00Z"
assert AS_OF.isoformat() == "2026-01-15T12:00:00+00:00"


class Built:
    """A warehouse built once by the runner, then by dbt, with both marts kept."""

    def __init__(self, pipeline: dlt.Pipeline, work: Path) -> None:
        self.pipeline = pipeline
        build_models(pipeline, as_of=AS_OF)
        self.runner_marts = snapshot_marts(pipeline)
        self.runner_tables = _relation_kinds(pipeline)
        self.dbt: DbtBuildResult = build_with_dbt(pipeline, as_of=AS_OF, work_dir=work)
        self.dbt_marts = snapshot_marts(pipeline)
        self.dbt_tables = _relation_kinds(pipeline)


def _relation_kinds(pipeline: dlt.Pipeline) -> dict[str, str]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select table_name, table_type from information_schema.tables where table_schema = %s",
            f"{pipeline.dataset_name}_analytics",
        )
    return dict(rows or [])


@pytest.fixture(scope="session")
def built_small(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("dbt_small")
    pipeline = duckdb_pipeline(folder)
    load_store(pipeline, generate_organization(seed=7, size="small"))
    return Built(pipeline, folder / "dbt")


@pytest.mark.parametrize("mart", MARTS)
def test_dbt_build_gives_the_runners_marts_row_for_row(built_small: Built, mart: str) -> None:
    runner_rows, dbt_rows = built_small.runner_marts[mart], built_small.dbt_marts[mart]
    assert len(runner_rows) > 0
    assert dbt_rows == runner_rows


def test_dbt_runs_every_declared_test_and_all_pass(built_small: Built) -> None:
    result = built_small.dbt
    catalog = load_catalog()
    assert result.failures == []
    assert result.count("model") == len(catalog.models)
    dbt_tests = {node.name for node in result.nodes if node.resource_type == "test"}
    assert dbt_tests == {test.name for test in catalog.tests}  # same names, same set
    assert not (SQL_ROOT / "target").exists() and not (SQL_ROOT / "logs").exists()


def test_dbt_materializes_the_models_as_the_runner_does(built_small: Built) -> None:
    assert built_small.dbt_tables == built_small.runner_tables
    assert {kind for name, kind in built_small.dbt_tables.items() if name in MARTS} == {
        "BASE TABLE"
    }
    assert built_small.dbt_tables["int_bookings"] == "VIEW"


def _failing(result: DbtBuildResult) -> set[str]:
    return {node.name for node in result.failures if node.resource_type == "test"}


def _tiny_warehouse(folder: Path) -> tuple[dlt.Pipeline, str]:
    pipeline = duckdb_pipeline(folder)
    load_store(pipeline, generate_organization(seed=5, size="tiny"))
    return pipeline, str(folder / "warehouse.duckdb")


def test_a_duplicated_booking_id_fails_models_test_and_dbt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline, database = _tiny_warehouse(tmp_path)
    with pipeline.sql_client() as client:  # the same invitee loaded twice
        invitees = client.make_qualified_table_name("invitees")
        client.execute_sql(
            f"insert into {invitees} select * from {invitees} "
            f"where uri = (select min(uri) from {invitees} where old_invitee is null)"
        )
    capsys.readouterr()
    assert main(["models", "--duckdb", database, "--as-of", AS_OF_TEXT, "--test"]) == 1
    ours = {line.split()[1].rstrip(":") for line in capsys.readouterr().out.splitlines()
            if line.startswith("FAIL ")}  # fmt: skip
    assert {"unique_fct_bookings_booking_id", "unique_stg_calendly__invitees_invitee_uri"} <= ours
    dbt_test = build_with_dbt(pipeline, as_of=AS_OF, command="test", work_dir=tmp_path / "dbt")
    assert _failing(dbt_test) == ours
    assert main(["models", "--with", "dbt", "--duckdb", database, "--as-of", AS_OF_TEXT]) == 1
    captured = capsys.readouterr()
    assert "FAIL test unique_stg_calendly__invitees_invitee_uri: fail" in captured.out
    assert captured.err.startswith("error: dbt build: ")


def test_a_null_outcome_fails_the_runners_tests_and_dbt_test(tmp_path: Path) -> None:
    pipeline, _ = _tiny_warehouse(tmp_path)
    build_models(pipeline, as_of=AS_OF)
    with pipeline.sql_client() as client:
        bookings = ".".join(
            client.make_qualified_table_name_path("fct_bookings", dataset_name="calendly_analytics")
        )
        client.execute_sql(
            f"update {bookings} set outcome = null "
            f"where booking_id = (select min(booking_id) from {bookings})"
        )
    ours = {failure.name for failure in run_sql_tests(pipeline)}
    assert "not_null_fct_bookings_outcome" in ours
    dbt_test = build_with_dbt(pipeline, as_of=AS_OF, command="test", work_dir=tmp_path / "dbt")
    assert _failing(dbt_test) == ours


def test_models_with_dbt_on_good_data_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, database = _tiny_warehouse(tmp_path)
    capsys.readouterr()
    assert main(["models", "--with", "dbt", "--duckdb", database, "--as-of", AS_OF_TEXT]) == 0
    out = capsys.readouterr().out
    models, tests = len(load_catalog().models), len(load_catalog().tests)
    assert f"dbt built {models} models and ran {tests} tests in calendly_analytics" in out
    assert "as of 2026-01-15T12:00:00+00:00" in out and "all dbt tests passed" in out


@pytest.fixture
def dlt_runner_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """What dlt's dbt runner needs here: this venv, and a DuckDB profile without httpfs."""
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)  # dlt runs `python` from $VIRTUAL_ENV/bin
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")  # no tracking calls
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(DLT_DUCKDB_PROFILE)
    monkeypatch.setenv("DBT_PACKAGE_RUNNER__PACKAGE_PROFILES_DIR", str(profiles))
    package = tmp_path / "calendly_dbt"  # dbt writes target/, logs/ into the copy
    shutil.copytree(SQL_ROOT, package)
    yield package


DLT_DUCKDB_PROFILE = """\
duckdb:
  target: analytics
  outputs:
    analytics:
      type: duckdb
      path: "{{ env_var('DLT__CREDENTIALS__DATABASE') }}"
      schema: "{{ var('destination_dataset_name', var('source_dataset_name')) }}"
      threads: 1
"""


def test_dlt_dbt_package_runner_builds_the_same_marts(
    built_small: Built, dlt_runner_env: Path
) -> None:
    runner = dlt.dbt.package(built_small.pipeline, str(dlt_runner_env))
    schema = "calendly_dlt_dbt"
    dbt_vars: dict[str, Any] = {"as_of": AS_OF_TEXT}
    models = runner.run_all(additional_vars=dbt_vars, destination_dataset_name=schema)
    assert {model.status for model in models} == {"success"} and len(models) == len(
        load_catalog().models
    )
    tests = runner.test(additional_vars=dbt_vars, destination_dataset_name=schema)
    assert {test.status for test in tests} == {"pass"}
    with built_small.pipeline.sql_client() as client:  # calendly_analytics: as the runner's
        for mart in MARTS:
            rows = client.execute_sql(f"select count(*) from {schema}.{mart}")
            assert rows[0][0] == len(built_small.runner_marts[mart]), mart
            for left, right in ((schema, "calendly_analytics"), ("calendly_analytics", schema)):
                only_left = client.execute_sql(
                    f"select count(*) from (select * from {left}.{mart} "
                    f"except select * from {right}.{mart})"
                )
                assert only_left[0][0] == 0, (mart, left)


HOST_PROJECT = """\
name: host_project
version: "1.0.0"
config-version: 2
profile: host_project
"""
HOST_SOURCES = """\
version: 2
sources:
  - name: calendly
    overrides: calendly_elt
    schema: raw_calendly
"""


def _dbt(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "--no-use-colors", *arguments,
         "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_an_existing_dbt_project_adds_the_package_and_overrides_the_source_schema(
    tmp_path: Path,
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="host",
        destination=dlt.destinations.duckdb(str(tmp_path / "analytics.duckdb")),
        dataset_name="raw_calendly",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    load_store(pipeline, generate_organization(seed=5, size="tiny"))
    build_models(pipeline, as_of=AS_OF)  # the runner's marts: raw_calendly_analytics
    ours = snapshot_marts(pipeline)
    project = tmp_path / "host_project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(HOST_PROJECT)
    (project / "packages.yml").write_text(f"packages:\n  - local: {SQL_ROOT}\n")
    (project / "models" / "calendly_sources.yml").write_text(HOST_SOURCES)
    (project / "profiles.yml").write_text(
        "host_project:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'analytics.duckdb'}\n      schema: reporting\n      threads: 1\n"
    )
    assert _dbt(project, "deps").returncode == 0
    built = _dbt(project, "build", "--vars", '{as_of: "2026-01-15T12:00:00Z"}')
    assert built.returncode == 0, built.stdout[-2000:]
    catalog = load_catalog()  # every model and every declared test ran and passed
    assert "ERROR=0" in built.stdout
    assert f"PASS={len(catalog.models) + len(catalog.tests)}" in built.stdout
    with pipeline.sql_client() as client:  # dbt's marts in the host's target schema
        for mart in MARTS:
            order = ", ".join(MART_KEYS[mart])
            with client.execute_query(f"select * from reporting.{mart} order by {order}") as cursor:
                columns = [column[0] for column in cursor.description]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            assert rows == ours[mart] and rows, mart
