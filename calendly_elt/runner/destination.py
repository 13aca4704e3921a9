"""The ``calendly`` dlt pipeline and where it loads.

A DuckDB destination is a file, and its pipeline state lives beside it in
``.<file>.dlt/`` (:func:`duckdb_state_dir`, the one place that rule is
written), so each database file has its own checkpoints. Any other dlt
destination is configured the dlt way and keeps its state in dlt's default
folder (or ``--pipelines-dir``).

A load package holds the rows it loads (invitees' names and e-mail addresses
among them): once loaded, its files are deleted (dlt's
``load.delete_completed_jobs``, on unless configured otherwise), so personal
data does not pile up in the pipelines folder.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from calendly_elt.calendly.settings import DEFAULT_DUCKDB_FILE, PIPELINE_NAME, RAW_DATASET
from calendly_elt.duckdb_memory import duckdb_global_config
from calendly_elt.errors import ConfigError, one_line

logger = logging.getLogger(__name__)

DEFAULT_DUCKDB_PATH = Path(DEFAULT_DUCKDB_FILE)
DELETE_COMPLETED_JOBS = "load.delete_completed_jobs"
DISABLE_COMPRESSION = "data_writer.disable_compression"
_STATE_DIR_PREFIX, _STATE_DIR_SUFFIX = ".", ".dlt"


def duckdb_state_dir(database: Path) -> Path:
    """The pipeline state folder of a DuckDB file: ``.<file>.dlt`` beside it."""
    resolved = Path(database).expanduser().resolve()
    return resolved.parent / f"{_STATE_DIR_PREFIX}{resolved.name}{_STATE_DIR_SUFFIX}"


def duckdb_file_of(state_dir: Path) -> Path | None:
    """The DuckDB file whose state folder is ``state_dir`` (None: not such a folder)."""
    name = state_dir.name
    if name.startswith(_STATE_DIR_PREFIX) and name.endswith(_STATE_DIR_SUFFIX):
        return state_dir.parent / name[len(_STATE_DIR_PREFIX) : -len(_STATE_DIR_SUFFIX)]
    return None


def is_duckdb(destination: str | None) -> bool:
    """Whether a ``--destination`` value means the DuckDB file (the default)."""
    return destination in (None, "duckdb")


def make_pipeline(
    *,
    destination: str | None = None,
    duckdb_path: Path | str | None = None,
    pipelines_dir: Path | str | None = None,
    dataset_name: str = RAW_DATASET,
    read_only: bool = False,
) -> dlt.Pipeline:
    """Build the ``calendly`` dlt pipeline (dataset ``calendly``).

    Args:
        destination: A dlt destination name (``postgres``, ``bigquery``...),
            configured the dlt way; None or ``duckdb`` means a DuckDB file.
        duckdb_path: The DuckDB file; default ``calendly_warehouse.duckdb`` in the
            working directory (not ``calendly.duckdb``: DuckDB names the catalog
            after the file, and a catalog named like the ``calendly`` dataset
            makes two-part names ambiguous).
        pipelines_dir: Where dlt keeps pipeline state (overrides the default).
        dataset_name: The raw dataset (schema); ``calendly`` unless isolating tests.
        read_only: Open a DuckDB file read-only (``status``: it never writes
            there); other destinations ignore it.

    Returns:
        The pipeline.

    Raises:
        ConfigError: The destination name is unknown or ``--duckdb`` was combined
            with another destination.
    """
    if is_duckdb(destination):
        target, database_state = _duckdb_target(Path(duckdb_path or DEFAULT_DUCKDB_PATH), read_only)
        state_dir: Path | None = Path(pipelines_dir) if pipelines_dir else database_state
    elif duckdb_path is not None:
        raise ConfigError("--duckdb only applies to the duckdb destination")
    else:
        target, state_dir = destination, Path(pipelines_dir) if pipelines_dir else None
    _delete_loaded_files_by_default()
    _uncompressed_intermediate_files_by_default()
    options: dict[str, Any] = {"pipelines_dir": str(state_dir)} if state_dir else {}
    if logger.isEnabledFor(logging.DEBUG):
        options["progress"] = "log"
    try:
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME, destination=target, dataset_name=dataset_name, **options
        )
    except UnknownDestinationModule as error:
        raise ConfigError(
            f"unknown destination {destination!r}: not a dlt destination name (e.g. duckdb, "
            f"postgres, bigquery, snowflake) nor a named destination configured under "
            f"[destination.{destination}]"
        ) from error
    except Exception as error:  # dlt's other destination errors vary by version
        raise ConfigError(f"cannot use destination {destination!r}: {one_line(error)}") from error


def _delete_loaded_files_by_default() -> None:
    """Turn on dlt's ``load.delete_completed_jobs`` unless the user configured it.

    ``[load] delete_completed_jobs = false`` in ``.dlt/config.toml`` (or
    ``LOAD__DELETE_COMPLETED_JOBS=false``) keeps the loaded files, dlt's default.
    """
    if dlt.config.get(DELETE_COMPLETED_JOBS) is None:
        dlt.config[DELETE_COMPLETED_JOBS] = True


def _uncompressed_intermediate_files_by_default() -> None:
    """Turn off gzip of dlt's extracted files unless the user configured it.

    They live only until their package loads (then deleted, above); gzip took
    3.5% of a ``medium`` backfill's CPU. ``[data_writer] disable_compression =
    false`` keeps dlt's default.
    """
    if dlt.config.get(DISABLE_COMPRESSION) is None:
        dlt.config[DISABLE_COMPRESSION] = True


def _duckdb_target(database: Path, read_only: bool) -> tuple[Any, Path]:
    database = database.expanduser().resolve()
    if database.stem == RAW_DATASET:
        raise ConfigError(
            f"a DuckDB file named {database.name} cannot hold the dataset {RAW_DATASET!r}: "
            "DuckDB names the catalog after the file and rejects the ambiguous names; "
            f"use another file name, e.g. --duckdb {DEFAULT_DUCKDB_PATH}"
        )
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the folder of --duckdb {database}: {error.strerror}"
        ) from None
    _refuse_what_is_not_duckdb(database)
    credentials = DuckDbCredentials(
        str(database), read_only=read_only, global_config=duckdb_global_config()
    )
    target = dlt.destinations.duckdb(credentials)
    _remember_default_capabilities(target)
    return target, duckdb_state_dir(database)


def _remember_default_capabilities(destination: Any) -> None:
    """Resolve a DuckDB destination's default capabilities once, not at every step.

    dlt asks ``capabilities()`` with no configuration five times per
    extract/normalize/load cycle, and each time resolves the whole destination
    configuration through every config provider (a fifth of a small run's CPU).
    Those capabilities depend only on the factory's arguments (and the naming
    convention), fixed for the factory's life, so each caller gets a copy of the
    first answer. Calls with an explicit configuration are not cached.
    """
    resolve = destination.capabilities
    known: dict[Any, Any] = {}

    def capabilities(config: Any = None, naming: Any = None) -> Any:
        if config is not None:
            return resolve(config, naming)
        key = None if naming is None else (type(naming), getattr(naming, "max_length", None))
        if key not in known:
            known[key] = resolve(None, naming)
        return copy.copy(known[key])

    destination.capabilities = capabilities


_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _refuse_what_is_not_duckdb(database: Path) -> None:
    """A folder, a SQLite file or any other file is refused with its own message.

    Without this check dlt reports them all as "check your credentials /
    internet connection". A missing or empty file is fine: DuckDB creates it.
    """
    if database.is_dir():
        raise ConfigError(
            f"--duckdb {database} is a folder, not a DuckDB file: give a file path, "
            f"e.g. --duckdb {database / DEFAULT_DUCKDB_FILE}"
        )
    try:
        with database.open("rb") as file:
            head = file.read(16)
    except FileNotFoundError:
        return
    except OSError as error:
        raise ConfigError(f"cannot read --duckdb {database}: {error.strerror}") from None
    if not head or head[8:12] == _DUCKDB_MAGIC:
        return
    kind = "a SQLite database" if head.startswith(_SQLITE_MAGIC) else "not a DuckDB database"
    raise ConfigError(
        f"--duckdb {database} is {kind}: give a DuckDB file, or a new path for one "
        f"(e.g. --duckdb {database.with_name(DEFAULT_DUCKDB_FILE)})"
    )


def describe_destination(pipeline: dlt.Pipeline) -> str:
    """A short, secret-free description of where the pipeline loads."""
    destination = pipeline.destination
    if destination is None:
        return "no destination"
    if destination.destination_type.endswith("duckdb"):
        database = duckdb_file_of(Path(pipeline.pipelines_dir))
        return f"duckdb {database}" if database else "duckdb"
    return str(destination.destination_name)


@contextmanager
def duckdb_kept_open(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Keep one connection to a DuckDB destination open while the block runs.

    dlt opens the file for every load job and query and closes it when the
    last connection is returned; with nothing held, each open replays the
    catalog (a third of a small incremental run's time). Other destinations:
    nothing is held.
    """
    destination = pipeline.destination
    if destination is None or not destination.destination_type.endswith("duckdb"):
        yield
        return
    with pipeline.sql_client():
        yield
