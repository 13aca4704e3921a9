"""The job a schedule runs: extract and load, then build the models, under one lock.

``calendly-elt run``, ``backfill`` and ``demo`` are this function. The lock is
held from the first request to the last model, so ``status`` keeps off the
database and no ``models`` build starts between the load and the build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt

from calendly_elt.calendly.config import CalendlySettings
from calendly_elt.models.runner import BuildResult, build_models
from calendly_elt.runner.destination import duckdb_kept_open
from calendly_elt.runner.extraction import RunSummary, merge_landed_webhooks, run_extraction
from calendly_elt.runner.warehouse_lock import warehouse_lock


@dataclass(frozen=True)
class JobResult:
    """What the job did: the extraction's summary and, unless skipped, the model build."""

    extraction: RunSummary
    models: BuildResult | None


def run_job(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    *,
    build: bool = True,
    as_of: datetime | None = None,
    on_extracted: Callable[[RunSummary], None] | None = None,
    **extraction: Any,
) -> JobResult:
    """Extract, load and build the models while holding the warehouse's lock.

    Args:
        pipeline: From ``make_pipeline``.
        settings: Resolved settings.
        build: Build the SQL models after the load (``--skip-models``: False).
        as_of: The models' reference instant; default now.
        on_extracted: Called with the extraction's summary before the build
            (the CLI prints it there).
        **extraction: Passed to :func:`run_extraction` (``full_refresh``,
            ``since``, ``now``, ``transport``, ``progress``, ``cancel``...).

    Raises:
        PipelineLockedError: Another run holds the lock.
        CalendlyEltError: The extraction, the load or the build failed.
    """
    with warehouse_lock(pipeline), duckdb_kept_open(pipeline):
        summary = run_extraction(pipeline, settings, take_lock=False, **extraction)
        if on_extracted is not None:
            on_extracted(summary)
        models = build_models(pipeline, as_of=as_of) if build else None
    return JobResult(summary, models)


def run_webhook_job(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    *,
    build: bool = True,
    as_of: datetime | None = None,
) -> JobResult:
    """Merge the landed webhook deliveries, then build the models, under the pipeline's lock.

    Fresh marts between batch runs, without a request to Calendly.
    """
    with warehouse_lock(pipeline), duckdb_kept_open(pipeline):
        summary = merge_landed_webhooks(pipeline, settings, take_lock=False)
        models = build_models(pipeline, as_of=as_of) if build else None
    return JobResult(summary, models)
