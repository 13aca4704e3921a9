"""The job's lock: one lock per warehouse, whichever command asks and however it is invoked.

A run, a backfill, the demo and ``models`` take :func:`warehouse_lock`;
``status`` and ``report`` look at :func:`warehouse_lock_holder`. What is
locked is the warehouse, not the folder a command happens to be given:

- the state folder's lock file (``<pipelines_dir>/calendly.lock``, the first
  line: two runs sharing a state folder would interleave checkpoints);
- for DuckDB, the database file's lock file, ``.<file>.dlt/calendly.lock``
  beside the file, whatever ``--pipelines-dir`` says (with the default
  folders it is the same file as the first);
- for PostgreSQL, an advisory lock in the database itself
  (``postgres_lock.py``), which keeps apart runs from other hosts and state
  folders.

Other warehouses (BigQuery, Snowflake...) have only the lock file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dlt

from calendly_elt.runner.destination import duckdb_state_dir
from calendly_elt.runner.lock import LockHolder, live_lock_holder, lock_path, pipeline_lock
from calendly_elt.runner.postgres_lock import confirm_postgres_lock, is_postgres, postgres_lock


def duckdb_database(pipeline: dlt.Pipeline) -> Path | None:
    """The DuckDB file a pipeline loads into (None: another destination, or in memory)."""
    destination = pipeline.destination
    if destination is None or not destination.destination_type.endswith(".duckdb"):
        return None
    credentials = destination.config_params.get("credentials")
    database = getattr(credentials, "database", None)
    if not isinstance(database, str) or database in ("", ":memory:"):
        return None
    return Path(database).expanduser().resolve()


def lock_files(pipeline: dlt.Pipeline) -> list[Path]:
    """The lock files of a pipeline: its DuckDB file's (if any), then its state folder's."""
    files: list[Path] = []
    database = duckdb_database(pipeline)
    if database is not None:
        files.append(duckdb_state_dir(database) / f"{pipeline.pipeline_name}.lock")
    state = lock_path(pipeline).expanduser().resolve()
    if state not in files:
        files.append(state)
    return files


@contextmanager
def warehouse_lock(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold every lock of the pipeline's warehouse while the block runs.

    Raises:
        PipelineLockedError: Another run (or ``models``) holds one of them.
        WarehouseUnavailableError: The PostgreSQL database cannot be reached.
    """
    with ExitStack() as stack:
        for path in lock_files(pipeline):
            stack.enter_context(pipeline_lock(path))
        if is_postgres(pipeline):
            stack.enter_context(postgres_lock(pipeline))
        yield


def warehouse_lock_holder(pipeline: dlt.Pipeline) -> LockHolder | None:
    """The live run holding one of the pipeline's lock files; None if there is none.

    Only the files are read (nothing is opened): ``status`` and ``report``
    ask before they open a DuckDB file.
    """
    for path in lock_files(pipeline):
        holder = live_lock_holder(path)
        if holder is not None:
            return holder
    return None


def confirm_warehouse_lock(pipeline: dlt.Pipeline) -> None:
    """Before a load: check that a PostgreSQL advisory lock this job took is still held.

    Lock files cannot be lost; an advisory lock goes with its session.

    Raises:
        WarehouseLockLostError: The lock's session ended.
    """
    if is_postgres(pipeline):
        confirm_postgres_lock(pipeline)
