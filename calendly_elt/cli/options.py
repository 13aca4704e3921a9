"""Options shared by the commands, and the dlt log level they share."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

DuckdbOption = Annotated[
    Path | None,
    typer.Option(
        "--duckdb", help="DuckDB file to load into (default ./calendly_warehouse.duckdb)."
    ),
]
DestinationOption = Annotated[
    str | None,
    typer.Option(
        "--destination", help="Any dlt destination (e.g. postgres), configured the dlt way."
    ),
]
PipelinesDirOption = Annotated[
    Path | None,
    typer.Option("--pipelines-dir", help="Where dlt keeps the pipeline state."),
]
SkipModelsOption = Annotated[
    bool, typer.Option("--skip-models", help="Load only; do not build the SQL models.")
]


def quiet_dlt() -> None:
    """Show dlt's own warnings (e.g. columns without data yet) only with --verbose."""
    if not logging.getLogger().isEnabledFor(logging.INFO):
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
        logging.getLogger("dlt").setLevel(logging.ERROR)


TELEMETRY_KEY = "RUNTIME__DLTHUB_TELEMETRY"


def no_telemetry() -> None:
    """Turn dlt's anonymous telemetry off for this process, unless the user set it.

    The demo (and the test suite) call it; ``run`` leaves dlt's own setting alone
    (``[runtime] dlthub_telemetry = false`` or ``RUNTIME__DLTHUB_TELEMETRY=false``).
    """
    os.environ.setdefault(TELEMETRY_KEY, "false")
