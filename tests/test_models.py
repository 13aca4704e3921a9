"""The SQL models on DuckDB: catalog, build, SQL tests, atomic rebuilds, descriptions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import pytest
from model_fixtures import (
    MARTS,
    duckdb_pipeline,
    fetch_rows,
    load_store,
    mark_deleted,
    snapshot_marts,
)

from calendly_elt.models import runner
from calendly_elt.models.catalog import LAYERS, load_catalog
from calendly_elt.models.errors import (
    MartsMissingError,
    ModelBuildError,
    ModelDefinitionError,
    RawDataMissingError,
)
from calendly_elt.models.runner import build_models, run_sql_tests
from calendly_elt.models.transpile import RenderTarget, as_of_literal, render_sql
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

AS_OF = DEFAULT_NOW
# generic tests of marts/schema.yml, named as dbt names them
MEETING_HOST_IS_A_USER = "relationships_fct_meetings_host_user_uri__user_uri__ref_dim_users_"
BOOKING_HOST_IS_A_USER = "relationships_fct_bookings_host_user_uri__user_uri__ref_dim_users_"
OUTCOME_ACCEPTED_VALUES = (
    "accepted_values_fct_bookings_outcome__completed__no_show__canceled__upcoming"
)


@pytest.fixture(scope="module")
def small_pipeline(tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    pipeline = duckdb_pipeline(tmp_path_factory.mktemp("small"))
    load_store(pipeline, generate_organization(seed=7, size="small"))
    build_models(pipeline, as_of=AS_OF)
    return pipeline


def _fresh_pipeline(folder: Path, seed: int = 7) -> dlt.Pipeline:
    pipeline = duckdb_pipeline(folder)
    load_store(pipeline, generate_organization(seed=seed, size="tiny"))
    return pipeline


def test_catalog_orders_every_model_after_what_it_refs() -> None:
    catalog = load_catalog()
    position = {model.name: index for index, model in enumerate(catalog.models)}
    assert {model.name for model in catalog.marts} == set(MARTS)
    for model in catalog.models:
        for ref in model.refs:
            assert position[ref] < position[model.name], (ref, model.name)


def test_only_staging_models_read_raw_tables_and_marts_are_tables() -> None:
    catalog = load_catalog()
    for model in catalog.models:
        assert bool(model.sources) == (model.layer == "staging"), model.name
        assert model.name.startswith(
            {"staging": "stg_calendly__", "intermediate": "int_"}.get(model.layer, "")
        )
        assert model.materialization == ("table" if model.layer == "marts" else "view")
    assert catalog.sources >= {"invitees", "scheduled_events", "event_types", "users"}


def _empty_project(root: Path) -> None:
    """A dbt project folder with the layers, no models, and one raw table ``x``."""
    for layer in (*LAYERS, "tests"):
        (root / layer).mkdir()
    (root / "staging" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: calendly\n    tables:\n      - name: x\n"
    )


def test_catalog_rejects_a_ref_cycle(tmp_path: Path) -> None:
    _empty_project(tmp_path)
    (tmp_path / "staging" / "stg_calendly__x.sql").write_text(
        "select * from {{ source('calendly', 'x') }}"
    )
    (tmp_path / "intermediate" / "int_a.sql").write_text("select * from {{ ref('int_b') }}")
    (tmp_path / "intermediate" / "int_b.sql").write_text("select * from {{ ref('int_a') }}")
    with pytest.raises(ModelDefinitionError, match="cycle"):
        load_catalog(tmp_path)


def test_catalog_rejects_a_mart_reading_raw_tables(tmp_path: Path) -> None:
    _empty_project(tmp_path)
    (tmp_path / "marts" / "fct_x.sql").write_text("select * from {{ source('calendly', 'x') }}")
    with pytest.raises(ModelDefinitionError, match="only staging"):
        load_catalog(tmp_path)


def test_render_for_postgres_qualifies_names_and_as_of() -> None:
    target = RenderTarget(
        dialect="postgres",
        qualify_model=lambda name: f'"calendly_analytics"."{name}"',
        qualify_source=lambda name: f'"calendly"."{name}"',
        as_of=datetime(2024, 5, 1, 14, 30, tzinfo=UTC) + timedelta(microseconds=5),
    )
    sql = render_sql(load_catalog().model("int_bookings").sql, target)
    assert '"calendly_analytics"."int_invitee_chains"' in sql
    assert "CAST('2024-05-01 14:30:00.000005+00:00' AS TIMESTAMPTZ)" in sql
    assert "{{" not in sql and "__calendly_" not in sql
    assert "DOUBLE PRECISION" in sql


def test_as_of_literal_is_utc_and_refuses_naive_datetimes() -> None:
    berlin = datetime(2024, 1, 1, 1, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    )
    assert as_of_literal(berlin) == "cast('2024-01-01 01:00:00.000000+00:00' as timestamptz)"
    early = datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert as_of_literal(early) == "cast('0999-03-04 05:06:07.000000+00:00' as timestamptz)"
    with pytest.raises(ValueError):
        as_of_literal(datetime(2024, 1, 1))


def test_build_creates_views_and_tables_and_every_sql_test_passes(
    small_pipeline: dlt.Pipeline,
) -> None:
    with small_pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'calendly_analytics'"
        )
    kinds = dict(rows or [])
    catalog = load_catalog()
    for model in catalog.models:
        expected = "BASE TABLE" if model.materialization == "table" else "VIEW"
        assert kinds[model.name] == expected, model.name
    assert len(catalog.tests) >= 20
    assert run_sql_tests(small_pipeline) == []


def test_every_model_and_output_column_is_described(small_pipeline: dlt.Pipeline) -> None:
    with small_pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'calendly_analytics'"
        )
    built: dict[str, set[str]] = {}
    for table, column in rows or []:
        built.setdefault(table, set()).add(column)
    for model in load_catalog().models:
        assert model.description, f"{model.name} has no description"
        assert set(model.columns) == built[model.name], model.name
        undescribed = [name for name, text in model.columns.items() if not text]
        assert not undescribed, (model.name, undescribed)


def test_fct_bookings_has_the_contract_columns(small_pipeline: dlt.Pipeline) -> None:
    rows = fetch_rows(small_pipeline, "fct_bookings")
    assert list(rows[0]) == [
        "booking_id", "invitee_uri", "event_uri", "event_type_uri", "event_type_name",
        "host_user_uri", "invitee_email", "booked_at", "start_at", "reschedule_count",
        "outcome", "canceled_at", "canceler_type", "cancel_reason", "cancel_lead_hours",
        "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
    ]  # fmt: skip
    outcomes = {row["outcome"] for row in rows}
    assert outcomes == {"completed", "no_show", "canceled", "upcoming"}
    assert all((row["start_at"] > AS_OF) <= (row["outcome"] in ("upcoming", "canceled"))
               for row in rows)  # fmt: skip


def test_a_failed_build_leaves_the_previous_marts_unchanged(tmp_path: Path) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    first_as_of = datetime(2025, 6, 1, tzinfo=UTC)
    build_models(pipeline, as_of=first_as_of)
    before = snapshot_marts(pipeline)
    catalog = load_catalog()
    broken = dataclasses.replace(
        catalog.model("metrics_utm_attribution"), sql="select no_such_column from nowhere"
    )
    broken_catalog = dataclasses.replace(
        catalog,
        models=tuple(broken if m.name == broken.name else m for m in catalog.models),
    )
    with pytest.raises(ModelBuildError, match="metrics_utm_attribution"):
        build_models(pipeline, as_of=AS_OF, catalog=broken_catalog)
    assert snapshot_marts(pipeline) == before
    # the later as_of really changes fct_bookings, which was built before the failure
    build_models(pipeline, as_of=AS_OF)
    assert fetch_rows(pipeline, "fct_bookings") != before["fct_bookings"]


def test_swap_build_without_transactional_ddl_gives_the_same_marts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    build_models(pipeline, as_of=AS_OF)
    transactional = snapshot_marts(pipeline)
    monkeypatch.setattr(runner, "supports_transactional_ddl", lambda client: False)
    build_models(pipeline, as_of=AS_OF)
    assert snapshot_marts(pipeline) == transactional
    with pipeline.sql_client() as client:
        leftovers = client.execute_sql(
            "select table_name from information_schema.tables "
            "where table_schema = 'calendly_analytics' and table_name like '%__next'"
        )
    assert leftovers == []


def test_soft_deleted_invitees_and_events_are_left_out(tmp_path: Path) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    build_models(pipeline, as_of=AS_OF)
    bookings = fetch_rows(pipeline, "fct_bookings")
    single = next(row for row in bookings if row["reschedule_count"] == 0)
    mark_deleted(pipeline, "invitees", single["invitee_uri"], AS_OF)
    build_models(pipeline, as_of=AS_OF)
    after = fetch_rows(pipeline, "fct_bookings")
    assert len(after) == len(bookings) - 1
    assert single["booking_id"] not in {row["booking_id"] for row in after}
    meetings = fetch_rows(pipeline, "fct_meetings")
    booked = next(row for row in after if row["reschedule_count"] == 0)
    mark_deleted(pipeline, "scheduled_events", booked["event_uri"], AS_OF)  # its invitees not
    build_models(pipeline, as_of=AS_OF)
    assert len(fetch_rows(pipeline, "fct_meetings")) == len(meetings) - 1
    left = fetch_rows(pipeline, "fct_bookings")
    assert booked["event_uri"] not in {row["event_uri"] for row in left}
    assert {row["booking_id"] for row in after} - {row["booking_id"] for row in left} == {
        row["booking_id"] for row in after if row["event_uri"] == booked["event_uri"]
    }
    assert run_sql_tests(pipeline) == []


def test_missing_raw_tables_and_missing_marts_are_clear_errors(tmp_path: Path) -> None:
    pipeline = duckdb_pipeline(tmp_path)
    with pytest.raises(RawDataMissingError, match="calendly-elt run"):
        build_models(pipeline, as_of=AS_OF)
    with pytest.raises(MartsMissingError, match="calendly-elt models"):
        run_sql_tests(pipeline)


def test_build_result_lists_models_and_runs_tests_on_request(tmp_path: Path) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    result = build_models(pipeline, as_of=AS_OF, run_tests=True)
    assert [model.name for model in result.models] == [m.name for m in load_catalog().models]
    assert result.as_of == AS_OF and result.analytics_schema == "calendly_analytics"
    assert result.tests_ran and result.test_failures == []
    naive = datetime(2024, 1, 1)
    with pytest.raises(ModelBuildError, match="timezone"):
        build_models(pipeline, as_of=naive)


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "redshift", "databricks", "tsql"])
def test_every_model_renders_for_other_warehouses_never_run_there(dialect: str) -> None:
    """Only the rendering is checked (refs, sources, as_of placeholders); see README."""
    target = RenderTarget(
        dialect=dialect,
        qualify_model=lambda name: f"analytics.{name}",
        qualify_source=lambda name: f"raw.{name}",
        as_of=AS_OF,
    )
    for model in load_catalog().models:
        sql = render_sql(model.sql, target)
        assert "{{" not in sql and "__calendly_" not in sql, (dialect, model.name)
        for ref in model.refs:
            assert f"analytics.{ref}" in sql, (dialect, model.name, ref)


def test_sql_tests_catch_a_host_missing_from_the_users(tmp_path: Path) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    build_models(pipeline, as_of=AS_OF)
    host = fetch_rows(pipeline, "fct_meetings")[0]["host_user_uri"]
    with pipeline.sql_client() as client:
        client.execute_sql("delete from calendly.users where uri = %s", host)
    build_models(pipeline, as_of=AS_OF)
    failures = {failure.name: failure for failure in run_sql_tests(pipeline)}
    assert set(failures) == {MEETING_HOST_IS_A_USER, BOOKING_HOST_IS_A_USER}
    assert {row[0] for row in failures[MEETING_HOST_IS_A_USER].sample} == {host}


def test_sql_tests_catch_a_corrupted_fct_bookings(tmp_path: Path) -> None:
    pipeline = _fresh_pipeline(tmp_path)
    build_models(pipeline, as_of=AS_OF)
    assert run_sql_tests(pipeline) == []
    bookings = fetch_rows(pipeline, "fct_bookings")
    canceled = next(row["booking_id"] for row in bookings if row["outcome"] == "canceled")
    held = [row["booking_id"] for row in bookings if row["outcome"] == "completed"]
    table = "calendly_analytics.fct_bookings"
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"update {table} set canceler_type = null where booking_id = %s", canceled
        )
        client.execute_sql(f"update {table} set outcome = 'lost' where booking_id = %s", held[0])
        client.execute_sql(
            f"update {table} set event_uri = 'https://api.calendly.com/scheduled_events/gone' "
            "where booking_id = %s",
            held[1],
        )
        client.execute_sql(
            f"insert into {table} select * from {table} where booking_id = %s", held[2]
        )
        client.execute_sql(
            f"update {table} set host_user_uri = 'https://api.calendly.com/users/nobody' "
            "where booking_id = %s",
            held[3],
        )
    failures = {failure.name: failure for failure in run_sql_tests(pipeline)}
    assert set(failures) == {
        "consistency__fct_bookings_canceler_type",  # a canceled booking without canceler
        OUTCOME_ACCEPTED_VALUES,  # 'lost'
        "relationships_fct_bookings_event_uri__event_uri__ref_fct_meetings_",  # no such meeting
        "unique_fct_bookings_booking_id",  # the duplicated booking
        "consistency__fct_bookings_final_invitee_meeting",  # final invitee not of that meeting
        "reconciliation__bookings_vs_staging_invitees",  # one booking more than chains
        "reconciliation__utm_attribution_vs_bookings",  # metrics no longer add up
        "reconciliation__monthly_metrics_vs_bookings",
        "reconciliation__breakdowns_vs_bookings",  # hosts, weeks, times, lead times too
        BOOKING_HOST_IS_A_USER,  # a host who is not a user
    }
    assert failures[BOOKING_HOST_IS_A_USER].sample == [("https://api.calendly.com/users/nobody",)]
    assert failures["consistency__fct_bookings_canceler_type"].sample == [
        (canceled, "canceled", None)
    ]
    assert failures["unique_fct_bookings_booking_id"].sample == [(held[2], 2)]
