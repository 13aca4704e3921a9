"""``calendly-elt status``: what the pipeline state and the destination say (no API calls).

:func:`read_status` reads dlt state (last run, windows covered, requests) and
row counts from the destination - or, while a live run holds the lock, the
local state only, without opening the destination.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.checkpoints import SyncState, source_state_of
from calendly_elt.calendly.helpers.loaded import has_loaded_table
from calendly_elt.calendly.helpers.quarantine import TABLE as QUARANTINE_TABLE
from calendly_elt.errors import database_in_use
from calendly_elt.runner.destination import describe_destination
from calendly_elt.runner.failures import clear_errors
from calendly_elt.runner.lock import LockHolder
from calendly_elt.runner.postgres_lock import is_postgres, postgres_lock_holder
from calendly_elt.runner.warehouse_lock import warehouse_lock_holder

logger = logging.getLogger(__name__)


def row_counts(pipeline: dlt.Pipeline) -> dict[str, tuple[int, int]]:
    """Rows per loaded raw table: ``{table: (live, deleted)}``."""
    if not pipeline.default_schema_name:
        return {}
    schema = pipeline.default_schema  # loaded from storage on every access: once
    tables = sorted(table["name"] for table in schema.data_tables() if table.get("columns"))
    counts: dict[str, tuple[int, int]] = {}
    try:
        with pipeline.sql_client() as client:
            for table in tables:
                has_flag = "is_deleted" in schema.tables[table]["columns"]
                counts[table] = _count(client, table, has_flag)
    except Exception as error:
        in_use = database_in_use(error)
        if in_use is not None:
            raise in_use from error
        logger.info("cannot count rows: %s", error)
    return counts


def _count(client: Any, table: str, has_flag: bool) -> tuple[int, int]:
    qualified = client.make_qualified_table_name(table)
    deleted = "count(case when is_deleted then 1 end)" if has_flag else "0"
    try:
        with client.execute_query(f"select count(*), {deleted} from {qualified}") as cursor:
            total, gone = cursor.fetchone()
    except Exception:  # declared but never loaded
        return (0, 0)
    return (int(total) - int(gone), int(gone))


def quarantined_since(pipeline: dlt.Pipeline, since: datetime) -> int:
    """Records quarantined (seen breaking the raw contract) at or after ``since``."""
    if not has_loaded_table(pipeline, QUARANTINE_TABLE):
        return 0
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(QUARANTINE_TABLE)
            rows = client.execute_sql(
                f"select count(*) from {qualified} where last_seen_at >= %s", since
            )
    except Exception as error:
        logger.info("cannot count quarantined records: %s", error)
        return 0
    return int(rows[0][0]) if rows else 0


@dataclass
class StatusReport:
    """What ``calendly-elt status`` shows.

    While a run holds a lock file (``live_run``), everything comes from the
    local pipeline state: the destination is not opened (a second process on
    a DuckDB file would make the run fail), so ``row_counts`` is empty and
    ``pending_packages`` is None. A run found by its PostgreSQL advisory lock
    is in ``live_run`` too, with the destination read as usual.
    """

    destination: str
    last_success_at: datetime | None
    backfill_start: datetime | None
    covered: list[tuple[datetime, datetime]]
    run_in_progress: dict[str, Any] | None
    last_run: dict[str, Any] | None
    row_counts: dict[str, tuple[int, int]]
    pending_packages: int | None
    live_run: LockHolder | None = None


def read_status(pipeline: dlt.Pipeline) -> StatusReport:
    """Collect the pipeline's status from its state and destination (no API calls).

    If a live run holds one of the pipeline's lock files, only the local state
    is read (the checkpoint that run last saved): no ``sync_destination``, no
    row counts. Otherwise the destination is read, never written (open a
    DuckDB file with ``make_pipeline(read_only=True)``); on PostgreSQL a run
    from another host or state folder is found by its advisory lock.

    Raises:
        DatabaseInUseError: Another process has the DuckDB file open.
        ExtractionError: The destination could not be read.
    """
    holder = warehouse_lock_holder(pipeline)
    counts: dict[str, tuple[int, int]] = {}
    pending: int | None = None
    if holder is None:
        counts, pending = _read_destination(pipeline)
        holder = postgres_lock_holder(pipeline) if is_postgres(pipeline) else None
    state = SyncState(source_state_of(pipeline))
    run = state.run
    history = state.history
    return StatusReport(
        destination=describe_destination(pipeline),
        last_success_at=state.last_success_at,
        backfill_start=state.backfill_start,
        covered=state.covered,
        run_in_progress=run.to_state() if run else None,
        last_run=history[-1] if history else None,
        row_counts=counts,
        pending_packages=pending,
        live_run=holder,
    )


def _read_destination(pipeline: dlt.Pipeline) -> tuple[dict[str, tuple[int, int]], int]:
    """Sync state from the destination; its row counts and the packages waiting."""
    with clear_errors(f"reading state from {describe_destination(pipeline)}"):
        pipeline.sync_destination()
    pending = len(pipeline.list_extracted_load_packages()) + len(
        pipeline.list_normalized_load_packages()
    )
    return row_counts(pipeline), pending
