"""Load a simulator store's objects into a dlt destination, for the model tests.

``load_store`` runs dlt directly on the store's API-shaped objects, with the
raw table contract of ``pipelines.calendly.settings`` (same resource names,
``COLUMN_HINTS``, ``primary_key="uri"``, timestamps parsed to aware
datetimes), so the SQL models see what the real source loads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt

from pipelines.calendly.settings import COLUMN_HINTS, RAW_DATASET
from pipelines.simulator.store import Store, parse_ts

_TIMESTAMP_KEYS = ("created_at", "updated_at", "start_time", "end_time", "deleted_at")


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

    dlt insists on a password; the local test server trusts any, so one is
    filled in when the DSN has none.
    """
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=_with_password(dsn)),
        dataset_name=dataset,
        pipelines_dir=str(folder / "dlt_pipelines"),
    )


def _with_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password or not parts.username:
        return dsn
    netloc = f"{parts.username}:unused@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def load_store(pipeline: dlt.Pipeline, store: Store) -> None:
    """Load every object of ``store`` the models read into ``pipeline``'s destination."""
    tables: dict[str, Iterable[dict[str, Any]]] = {
        "users": store.users.values(),
        "event_types": store.event_types.values(),
        "scheduled_events": store.events.values(),
        "invitees": store.invitees.values(),
    }
    resources = [
        dlt.resource(
            [_typed(row) for row in rows],
            name=table,
            write_disposition="merge",
            primary_key="uri",
            columns=COLUMN_HINTS[table],
        )
        for table, rows in tables.items()
    ]
    pipeline.run(resources)


def mark_deleted(pipeline: dlt.Pipeline, table: str, uri: str, deleted_at: datetime) -> None:
    """Soft-delete one raw row the way the source does (``is_deleted``/``deleted_at``)."""
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"update {client.make_qualified_table_name(table)} "
            "set is_deleted = true, deleted_at = %s where uri = %s",
            deleted_at,
            uri,
        )


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    return _parse_timestamps(copy.deepcopy(row))


def _parse_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _TIMESTAMP_KEYS and isinstance(item, str):
                value[key] = parse_ts(item)
            else:
                value[key] = _parse_timestamps(item)
    elif isinstance(value, list):
        return [_parse_timestamps(item) for item in value]
    return value


MARTS = (
    "fct_bookings",
    "fct_meetings",
    "dim_event_types",
    "dim_users",
    "metrics_utm_attribution",
    "metrics_no_shows",
    "metrics_cancellations",
)
MART_KEYS: dict[str, tuple[str, ...]] = {
    "fct_bookings": ("booking_id",),
    "fct_meetings": ("event_uri",),
    "dim_event_types": ("event_type_uri",),
    "dim_users": ("user_uri",),
    "metrics_utm_attribution": ("utm_source", "utm_medium", "utm_campaign"),
    "metrics_no_shows": ("month", "event_type_name"),
    "metrics_cancellations": ("month", "event_type_name"),
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
