"""The models build for an organization without routing forms (no routing tables loaded)."""

from __future__ import annotations

from pathlib import Path

from source_harness import SourceHarness

from calendly_elt.calendly.helpers.scopes import BATCH_SCOPES
from calendly_elt.models.runner import build_models, run_sql_tests
from calendly_elt.simulator import generate_organization
from calendly_elt.simulator.ground_truth import compute_ground_truth


def test_without_routing_tables_the_routing_funnel_is_empty_and_the_rest_builds(
    tmp_path: Path,
) -> None:
    store = generate_organization(seed=3, size="tiny")
    harness = SourceHarness(store, tmp_path)
    # a token without routing_forms:read: dlt creates none of the four routing tables
    token = harness.sim.create_personal_access_token(
        scopes=[scope for scope in BATCH_SCOPES if scope != "routing_forms:read"]
    )
    pipeline = harness.pipeline()
    harness.run(pipeline, settings=harness.settings(access_token=token))
    with pipeline.sql_client() as client:
        tables = {
            row[0]
            for row in client.execute_sql(
                "select table_name from information_schema.tables where table_schema = 'calendly'"
            )
        }
    assert not {name for name in tables if name.startswith("routing_form")}

    result = build_models(pipeline, as_of=store.clock.now())
    assert "metrics_routing_funnel" in [model.name for model in result.models]
    assert run_sql_tests(pipeline) == []
    with pipeline.sql_client() as client:
        funnel = client.execute_sql(
            "select count(*) from calendly_analytics.metrics_routing_funnel"
        )
        bookings = client.execute_sql("select count(*) from calendly_analytics.fct_bookings")
    assert funnel[0][0] == 0
    assert bookings[0][0] == len(compute_ground_truth(store, as_of=store.clock.now()).bookings)
