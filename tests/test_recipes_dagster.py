"""``recipes/dagster/definitions.py``: every asset materialized in-process over the simulator.

The raw tables go through dagster-dlt (``@dlt_assets`` over ``calendly_source``),
the marts through the model build; the simulator is served on 127.0.0.1 and
the warehouse is a temporary DuckDB file. The raw tables must hold the
simulated organization and the marts must equal its ground truth.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import dlt
import pytest

dg = pytest.importorskip("dagster")
pytest.importorskip("dagster_dlt")

from test_models_ground_truth import assert_marts_equal_ground_truth  # noqa: E402

from calendly_elt.models.catalog import load_catalog  # noqa: E402
from calendly_elt.runner import make_pipeline  # noqa: E402
from calendly_elt.simulator import SimConfig, Simulator, generate_organization  # noqa: E402
from calendly_elt.simulator.ground_truth import compute_ground_truth  # noqa: E402

DEFINITIONS = Path(__file__).resolve().parents[1] / "recipes" / "dagster" / "definitions.py"


def _load_recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calendly_dagster_recipe", DEFINITIONS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(pipeline: dlt.Pipeline, table: str) -> int:
    with pipeline.sql_client() as client:
        relation = ".".join(client.make_qualified_table_name_path(table))
        return int(client.execute_sql(f"select count(*) from {relation}")[0][0])  # type: ignore[index]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(
        generate_organization(seed=5, size="tiny", now=now), SimConfig(requests_per_minute=100_000)
    )
    for name in ("CALENDLY_ACCESS_TOKEN", "CALENDLY_CLIENT_ID", "CALENDLY_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # .dlt/ and the token store: none of the developer's
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("SOURCES__CALENDLY__REQUESTS_PER_MINUTE", "100000")
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
        yield simulator


def test_materializing_every_asset_loads_the_raw_tables_and_builds_the_marts(
    served: Simulator, tmp_path: Path
) -> None:
    recipe = _load_recipe()
    pipeline = make_pipeline(duckdb_path=tmp_path / "dagster.duckdb")
    definitions = recipe.calendly_definitions(pipeline)
    assets = recipe.calendly_assets(pipeline)
    store = served.store
    as_of = store.clock.now()

    result = dg.materialize(
        assets,
        resources={"dlt": recipe.DagsterDltResource()},
        run_config={"ops": {"calendly_marts": {"config": {"as_of": as_of.isoformat()}}}},
    )

    assert result.success
    materialized = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization
        for event in result.get_asset_materialization_events()
    }
    marts = {model.name for model in load_catalog().marts}
    assert {key for key in materialized if key.startswith("calendly_analytics/")} == {
        f"calendly_analytics/{mart}" for mart in marts
    }
    for table in ("scheduled_events", "invitees", "event_types", "users", "routing_forms"):
        assert f"calendly/{table}" in materialized
    assert materialized["calendly/scheduled_events"].metadata["rows_loaded"].value == len(
        store.events
    )
    assert _count(pipeline, "scheduled_events") == len(store.events)
    assert _count(pipeline, "invitees") == len(store.invitees)

    truth = compute_ground_truth(store, as_of)
    bookings = materialized["calendly_analytics/fct_bookings"].metadata["dagster/row_count"]
    assert bookings.value == len(truth.bookings)
    assert_marts_equal_ground_truth(pipeline, truth, store)

    # the next scheduled materialization: incremental from the state the first one loaded
    again = dg.materialize(assets, resources={"dlt": recipe.DagsterDltResource()})
    assert again.success
    assert _count(pipeline, "scheduled_events") == len(store.events)
    assert _count(pipeline, "invitees") == len(store.invitees)

    # the marts depend on the raw tables they read; the job and the schedule cover all
    graph = definitions.resolve_asset_graph()
    fct_bookings = dg.AssetKey(["calendly_analytics", "fct_bookings"])
    assert dg.AssetKey(["calendly", "invitees"]) in graph.get(fct_bookings).parent_keys
    assert definitions.resolve_schedule_def("calendly_hourly").cron_schedule == "17 * * * *"


def test_loading_the_definitions_needs_no_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALENDLY_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("CALENDLY_ELT_DUCKDB", str(tmp_path / "later.duckdb"))
    definitions = _load_recipe().defs
    definitions = definitions() if callable(definitions) else definitions
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert "calendly/scheduled_events" in keys
    assert "calendly_analytics/metrics_no_shows" in keys
    assert not (tmp_path / "later.duckdb").exists()  # nothing is loaded by loading them


def test_a_broken_token_fails_the_raw_step_and_builds_no_marts(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "sim_pat_revoked_0123456789")
    recipe = _load_recipe()
    pipeline = make_pipeline(duckdb_path=tmp_path / "dagster.duckdb")
    result = dg.materialize(
        recipe.calendly_assets(pipeline),
        resources={"dlt": recipe.DagsterDltResource()},
        raise_on_error=False,
    )
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["calendly_raw"]
    error = failures[0].step_failure_data.error
    assert error.cause is not None  # the step's error is Dagster's; its cause is ours
    message = error.cause.message
    assert message.startswith("calendly_elt.calendly.helpers.errors."), message
    assert "401 Unauthenticated" in message
    assert "CALENDLY_ACCESS_TOKEN" in message
    assert "sim_pat_revoked_0123456789" not in message
    assert not result.get_asset_materialization_events()
