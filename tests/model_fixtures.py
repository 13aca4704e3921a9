"""Warehouses for the model tests: a simulated organization loaded by the real source.

``load_store`` serves a simulator ``Store`` over the in-process transport and
runs the real extraction (``calendly_elt.runner.run_extraction``) into a dlt
pipeline, so the SQL models read exactly what the pipeline loads.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import dlt

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.calendly.settings import RAW_DATASET
from calendly_elt.runner import RunSummary, run_extraction
from calendly_elt.simulator import SimConfig, Simulator
from calendly_elt.simulator.store import Store

UNLIMITED = 10**9


def duckdb_pipeline(folder: Path, name: str = "calendly") -> dlt.Pipeline:
    """A pipeline writing to ``folder/warehouse.duckdb``, its state kept under ``folder``.

    (A DuckDB file named like the dataset, ``calendly.duckdb``, makes catalog and
    schema names ambiguous to DuckDB's binder.)
    """
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name=RAW_DATASET,
        pipelines_dir=str(folder / "dlt_pipelines"),
    )


def postgres_pipeline(folder: Path, dsn: str, dataset: str, name: str) -> dlt.Pipeline:
    """A pipeline writing to the PostgreSQL database at ``dsn``, raw data in ``dataset``.

    ``dsn`` comes from the ``postgres_dsn`` fixture (password filled in).
    """
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=dsn),
        dataset_name=dataset,
        pipelines_dir=str(folder / "dlt_pipelines"),
    )


def load_store(pipeline: dlt.Pipeline, store: Store) -> RunSummary:
    """Extract ``store`` with the real source over the in-process simulator and load it.

    The simulator's clock is the source's "now"; rate limits are lifted so the
    extraction runs at full speed.
    """
    simulator = Simulator(store, SimConfig(apply_delays=False, requests_per_minute=UNLIMITED))
    settings = resolve_settings(
        access_token=simulator.admin_token, requests_per_minute=UNLIMITED, max_concurrency=4
    )
    return run_extraction(
        pipeline, settings, transport=simulator.transport(), now=simulator.clock.now
    )


def mark_deleted(pipeline: dlt.Pipeline, table: str, uri: str, deleted_at: datetime) -> None:
    """Soft-delete one raw row the way the source does (``is_deleted``/``deleted_at``)."""
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"update {client.make_qualified_table_name(table)} "
            "set is_deleted = true, deleted_at = %s where uri = %s",
            deleted_at,
            uri,
        )


MARTS = (
    "fct_bookings",
    "fct_meetings",
    "dim_event_types",
    "dim_users",
    "metrics_utm_attribution",
    "metrics_no_shows",
    "metrics_cancellations",
    "metrics_hosts",
    "metrics_lead_time",
    "metrics_popular_times",
    "metrics_routing_funnel",
    "metrics_weekly",
)
MART_KEYS: dict[str, tuple[str, ...]] = {
    "fct_bookings": ("booking_id",),
    "fct_meetings": ("event_uri",),
    "dim_event_types": ("event_type_uri",),
    "dim_users": ("user_uri",),
    "metrics_utm_attribution": ("utm_source", "utm_medium", "utm_campaign"),
    "metrics_no_shows": ("month", "event_type_name"),
    "metrics_cancellations": ("month", "event_type_name"),
    "metrics_hosts": ("host_user_uri",),
    "metrics_lead_time": ("event_type_name", "utm_source"),
    "metrics_popular_times": ("weekday", "hour"),
    "metrics_routing_funnel": ("routing_form_uri", "question", "answer"),
    "metrics_weekly": ("week", "event_type_name"),
}


def fetch_rows(pipeline: dlt.Pipeline, model: str) -> list[dict[str, Any]]:
    """Every row of ``model`` (in the analytics schema) as dicts, ordered by its key."""
    schema = f"{pipeline.dataset_name}_analytics"
    order = ", ".join(MART_KEYS.get(model, ("1",)))
    with pipeline.sql_client() as client:
        relation = ".".join(client.make_qualified_table_name_path(model, dataset_name=schema))
        with client.execute_query(f"select * from {relation} order by {order}") as cursor:
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def snapshot_marts(pipeline: dlt.Pipeline) -> dict[str, list[dict[str, Any]]]:
    """All rows of every mart."""
    return {mart: fetch_rows(pipeline, mart) for mart in MARTS}
