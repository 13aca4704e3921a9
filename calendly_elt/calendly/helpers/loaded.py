"""Reads of what the destination already holds (never writes).

The source compares what it lists with what is loaded: fingerprints of
events (``known_data.py``), URIs of users and submissions, hosts of loaded
events. A table declared in the schema but not loaded yet reads as empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation


def has_loaded_table(pipeline: dlt.Pipeline, table: str) -> bool:
    """Whether ``table`` has been created in the pipeline's destination (it has columns)."""
    if pipeline.destination is None or not pipeline.default_schema_name:
        return False
    schema = pipeline.default_schema
    return table in schema.tables and bool(schema.tables[table].get("columns"))


def query_loaded(pipeline: dlt.Pipeline, table: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``{table}`` is replaced by the qualified name); [] if not loaded."""
    return list(iter_loaded(pipeline, table, sql))


def read_loaded_uris(pipeline: dlt.Pipeline, table: str) -> set[str]:
    """URIs of the rows of ``table`` already loaded."""
    return {row[0] for row in query_loaded(pipeline, table, "select uri from {table}")}


def read_loaded_hosts(pipeline: dlt.Pipeline) -> set[str]:
    """URIs of every user who hosts a loaded event (people who left the org included)."""
    sql = "select distinct {table}.user from {table}"
    rows = query_loaded(pipeline, "scheduled_events__event_memberships", sql)
    return {row[0] for row in rows if row[0]}


def as_utc(value: Any) -> Any:
    """A loaded timestamp as aware UTC (DuckDB may return naive UTC); other values as is."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def iter_loaded(
    pipeline: dlt.Pipeline, table: str, sql: str, batch_size: int = 10_000
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` (``{table}``: the qualified name), ``batch_size`` at a time.

    None when the table is not loaded. Consume it whole: the SQL client stays
    open until the last row.
    """
    if not has_loaded_table(pipeline, table):
        return
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table)
            with client.execute_query(sql.format(table=qualified)) as cursor:
                while rows := cursor.fetchmany(batch_size):
                    yield from map(tuple, rows)
    except DatabaseUndefinedRelation:  # declared in the schema, not loaded yet
        return
