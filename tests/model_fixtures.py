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
    """A pipeline writing to the PostgreSQL database at ``dsn``, raw data in ``dataset``."""
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=dsn),
        dataset_name=dataset,
        pipelines_dir=str(folder / "dlt_pipelines"),
    )


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
