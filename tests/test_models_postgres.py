"""The same models give identical marts in DuckDB and in a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt
import pytest
from model_fixtures import (
    MARTS,
    duckdb_pipeline,
    load_store,
    postgres_pipeline,
    snapshot_marts,
)

from calendly_elt.models.catalog import load_catalog
from calendly_elt.models.errors import ModelBuildError
from calendly_elt.models.report import render_report
from calendly_elt.models.runner import analytics_schema_of, build_models, run_sql_tests
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def both_warehouses(
    postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dlt.Pipeline, dlt.Pipeline]]:
    store = generate_organization(seed=11, size="small")
    folder = tmp_path_factory.mktemp("pg")
    duck = duckdb_pipeline(folder)
    dataset = f"calendly_models_{uuid.uuid4().hex[:8]}"
    postgres = postgres_pipeline(folder, postgres_dsn, dataset, name=dataset)
    for pipeline in (duck, postgres):
        load_store(pipeline, store)
        build_models(pipeline, as_of=DEFAULT_NOW)
    yield duck, postgres
    with postgres.sql_client() as client:
        for schema in (dataset, analytics_schema_of(postgres)):
            client.execute_sql(f'drop schema if exists "{schema}" cascade')


def _same_value(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=0, abs_tol=1e-9)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left == right and left.utcoffset() is not None and right.utcoffset() is not None
    return bool(left == right) and type(left) is type(right)


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_is_identical_in_duckdb_and_postgres(
    both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline], mart: str
) -> None:
    duck, postgres = both_warehouses
    duck_rows = snapshot_marts(duck)[mart]
    postgres_rows = snapshot_marts(postgres)[mart]
    assert len(duck_rows) == len(postgres_rows) > 0
    for duck_row, postgres_row in zip(duck_rows, postgres_rows, strict=True):
        assert list(duck_row) == list(postgres_row)
        differing = {
            column: (value, postgres_row[column])
            for column, value in duck_row.items()
            if not _same_value(value, postgres_row[column])
        }
        assert not differing, (mart, duck_row, differing)


def test_sql_tests_pass_on_postgres(both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline]) -> None:
    _, postgres = both_warehouses
    assert run_sql_tests(postgres) == []


def test_a_failed_postgres_build_leaves_the_marts_unchanged(
    both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline],
) -> None:
    _, postgres = both_warehouses
    before = snapshot_marts(postgres)
    with postgres.sql_client() as client:
        client.execute_sql(
            f"alter table {client.make_qualified_table_name('invitees')} "
            "rename column email to email_x"
        )
    try:
        with pytest.raises(ModelBuildError, match="stg_calendly__invitees"):
            build_models(postgres, as_of=datetime(2027, 1, 1, tzinfo=DEFAULT_NOW.tzinfo))
    finally:
        with postgres.sql_client() as client:
            client.execute_sql(
                f"alter table {client.make_qualified_table_name('invitees')} "
                "rename column email_x to email"
            )
    assert snapshot_marts(postgres) == before


def test_report_is_the_same_from_postgres(
    both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline],
) -> None:
    duck, postgres = both_warehouses
    from_postgres = json.loads(render_report(postgres, fmt="json"))
    assert from_postgres["utm_sources"] and from_postgres["months"]
    assert from_postgres == json.loads(render_report(duck, fmt="json"))
    assert render_report(postgres) == render_report(duck)


@pytest.fixture
def analyst_schema(both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline]) -> Iterator[str]:
    _, postgres = both_warehouses
    schema = f"analyst_{uuid.uuid4().hex[:8]}"
    with postgres.sql_client() as client:
        client.execute_sql(f'create schema "{schema}"')
    yield schema
    with postgres.sql_client() as client:
        client.execute_sql(f'drop schema if exists "{schema}" cascade')


def _count(postgres: dlt.Pipeline, relation: str) -> int:
    with postgres.sql_client() as client:
        return int(client.execute_sql(f"select count(*) from {relation}")[0][0])


def test_analysts_views_on_the_marts_survive_a_rebuild(
    both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline], analyst_schema: str
) -> None:
    _, postgres = both_warehouses
    marts = analytics_schema_of(postgres)
    canceled = f'"{analyst_schema}".canceled'
    with postgres.sql_client() as client:
        client.execute_sql(
            f"create view {canceled} as select booking_id, canceler_type "
            f"from {marts}.fct_bookings where outcome = 'canceled'"
        )
        client.execute_sql(  # a view on a view
            f'create view "{analyst_schema}".canceled_by_host as '
            f"select * from {canceled} where canceler_type = 'host'"
        )
        client.execute_sql(
            f'create materialized view "{analyst_schema}".sources as '
            f"select utm_source, sum(bookings) as bookings from {marts}.metrics_utm_attribution "
            "group by utm_source"
        )
    before = {name: _count(postgres, f'"{analyst_schema}".{name}')
              for name in ("canceled", "canceled_by_host", "sources")}  # fmt: skip
    assert before["canceled"] > before["canceled_by_host"] > 0 and before["sources"] > 1

    build_models(postgres, as_of=DEFAULT_NOW)

    after = {name: _count(postgres, f'"{analyst_schema}".{name}')
             for name in ("canceled", "canceled_by_host", "sources")}  # fmt: skip
    assert after == before


def test_a_view_that_reads_a_dropped_column_fails_the_build_and_loses_nothing(
    both_warehouses: tuple[dlt.Pipeline, dlt.Pipeline], analyst_schema: str
) -> None:
    _, postgres = both_warehouses
    marts = analytics_schema_of(postgres)
    with postgres.sql_client() as client:
        client.execute_sql(
            f'create view "{analyst_schema}".held as select booking_id '
            f"from {marts}.fct_bookings where outcome = 'completed'"
        )
    before = snapshot_marts(postgres)
    held = _count(postgres, f'"{analyst_schema}".held')
    catalog = load_catalog()  # a new version of fct_bookings without booking_id
    without_booking_id = "select outcome from ({sql}) as bookings"
    models = tuple(
        dataclasses.replace(model, sql=without_booking_id.format(sql=model.sql))
        if model.name == "fct_bookings"
        else model
        for model in catalog.models
        if "fct_bookings" not in model.refs
    )
    broken = dataclasses.replace(catalog, models=models)
    with pytest.raises(ModelBuildError, match=f"{analyst_schema}.held"):
        build_models(postgres, as_of=DEFAULT_NOW, catalog=broken)
    assert snapshot_marts(postgres) == before
    assert _count(postgres, f'"{analyst_schema}".held') == held
