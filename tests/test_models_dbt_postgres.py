"""dbt-postgres builds the same marts as the embedded runner on a real PostgreSQL server.

The runner transpiles the DuckDB-dialect models with sqlglot; dbt runs them as
written, so this also shows the SQL is portable to PostgreSQL as it stands.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import pytest
from model_fixtures import MARTS, load_store, postgres_pipeline, snapshot_marts

from calendly_elt.models.catalog import load_catalog
from calendly_elt.models.dbt_build import DbtBuildResult, build_with_dbt
from calendly_elt.models.runner import analytics_schema_of, build_models
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

pytestmark = pytest.mark.postgres
if os.environ.get("CI") != "true":
    pytest.importorskip("dbt.adapters.postgres", reason="pip install 'calendly-elt[dbt]'")


class BuiltOnPostgres:
    """A PostgreSQL dataset built by the runner, then by dbt, both marts kept."""

    def __init__(self, pipeline: dlt.Pipeline, work: Path) -> None:
        self.pipeline = pipeline
        build_models(pipeline, as_of=DEFAULT_NOW)
        self.runner_marts = snapshot_marts(pipeline)
        self.dbt: DbtBuildResult = build_with_dbt(pipeline, as_of=DEFAULT_NOW, work_dir=work)
        self.dbt_marts = snapshot_marts(pipeline)


@pytest.fixture(scope="session")
def built_postgres(
    postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltOnPostgres]:
    folder = tmp_path_factory.mktemp("dbt_pg")
    dataset = f"calendly_dbt_{uuid.uuid4().hex[:8]}"
    pipeline = postgres_pipeline(folder, postgres_dsn, dataset, name=dataset)
    load_store(pipeline, generate_organization(seed=11, size="small"))
    yield BuiltOnPostgres(pipeline, folder / "dbt")
    with pipeline.sql_client() as client:
        for schema in (dataset, analytics_schema_of(pipeline)):
            client.execute_sql(f'drop schema if exists "{schema}" cascade')


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):  # sqlglot's SQL vs dbt's
        return math.isclose(left, right, rel_tol=0, abs_tol=1e-9)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left == right and left.utcoffset() is not None and right.utcoffset() is not None
    return bool(left == right) and type(left) is type(right)


@pytest.mark.parametrize("mart", MARTS)
def test_dbt_postgres_gives_the_runners_marts_row_for_row(
    built_postgres: BuiltOnPostgres, mart: str
) -> None:
    runner_rows, dbt_rows = built_postgres.runner_marts[mart], built_postgres.dbt_marts[mart]
    assert len(runner_rows) == len(dbt_rows) > 0
    for runner_row, dbt_row in zip(runner_rows, dbt_rows, strict=True):
        assert list(runner_row) == list(dbt_row)
        differing = {
            column: (value, dbt_row[column])
            for column, value in runner_row.items()
            if not _same(value, dbt_row[column])
        }
        assert not differing, (mart, runner_row, differing)


def test_dbt_postgres_runs_every_declared_test_and_all_pass(
    built_postgres: BuiltOnPostgres,
) -> None:
    result = built_postgres.dbt
    assert result.failures == []
    assert result.analytics_schema == analytics_schema_of(built_postgres.pipeline)
    assert {node.name for node in result.nodes if node.resource_type == "test"} == {
        test.name for test in load_catalog().tests
    }
