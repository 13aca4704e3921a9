"""A dlt pipeline pointing at the warehouse the models are built in.

Minimal stand-in for the commands ``models`` and ``report``: the pipeline is
named like the extraction pipeline (``calendly``), its raw dataset is
``calendly`` and its destination is a DuckDB file (default) or any dlt
destination by name, configured the dlt way (e.g.
``DESTINATION__POSTGRES__CREDENTIALS``).
"""

from __future__ import annotations

from pathlib import Path

import dlt
from dlt.common.exceptions import DltException

from pipelines.calendly.settings import PIPELINE_NAME, RAW_DATASET
from pipelines.errors import ConfigError
from pipelines.models.errors import MartsMissingError

DEFAULT_DUCKDB_PATH = Path("calendly_warehouse.duckdb")
"""Default DuckDB file. Not ``calendly.duckdb``: a DuckDB catalog named like
the ``calendly`` dataset makes two-part names ambiguous to DuckDB's binder."""


def warehouse_pipeline(
    duckdb_path: Path | None = None, destination: str | None = None, *, must_exist: bool = False
) -> dlt.Pipeline:
    """The dlt pipeline whose destination holds the raw data and the models.

    Args:
        duckdb_path: DuckDB file (used when ``destination`` is None or ``duckdb``).
        destination: a dlt destination name, e.g. ``postgres``; default DuckDB.
        must_exist: refuse a DuckDB file that does not exist (nothing loaded yet).

    Returns:
        The pipeline (nothing is run).

    Raises:
        ConfigError: both options given for a non-DuckDB destination, or an
            unknown destination.
        MartsMissingError: ``must_exist`` and the DuckDB file is missing.
    """
    if destination not in (None, "duckdb") and duckdb_path is not None:
        raise ConfigError("--duckdb only applies to the duckdb destination")
    is_duckdb = destination in (None, "duckdb")
    database = duckdb_path or DEFAULT_DUCKDB_PATH
    if is_duckdb and must_exist and not database.exists():
        raise MartsMissingError(f"no DuckDB warehouse at {database}: run `calendly-elt run` first")
    try:
        target = dlt.destinations.duckdb(str(database)) if is_duckdb else destination
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME, destination=target, dataset_name=RAW_DATASET
        )
    except DltException as error:
        raise ConfigError(f"cannot use destination {destination!r}: {error}") from error
