"""The extraction: Calendly into the raw dataset, checkpoint by checkpoint.

A run (:func:`run_extraction`):

1. takes the warehouse's lock (``warehouse_lock.py``) unless the caller holds it;
2. syncs dlt state with the destination, loads packages a crashed run left
   behind and applies their pending soft deletes;
3. extracts ``scheduled_events`` + ``invitees`` window by window; after every
   ``checkpoint_events`` events or ``checkpoint_seconds`` seconds the
   package is normalized and loaded, which commits the windows read so far
   (the checkpoint) with the data;
4. extracts the small dimension lists (users last: it adds every loaded host);
5. merges the webhook deliveries landed since the last merge (no API call;
   :func:`merge_landed_webhooks` does that step alone);
6. returns a :class:`RunSummary`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import dlt
import httpx
from dlt.common.pipeline import LoadInfo

from calendly_elt.calendly import (
    DIMENSION_RESOURCES,
    EVENT_RESOURCES,
    WEBHOOK_RESOURCES,
    RunOptions,
    WindowProgress,
    apply_pending_deletions,
    calendly_source,
)
from calendly_elt.calendly.config import CalendlySettings, build_client
from calendly_elt.calendly.helpers.checkpoints import SyncState, source_state_of
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.reach import Reach
from calendly_elt.calendly.run_options import wall_clock
from calendly_elt.runner.destination import describe_destination, duckdb_kept_open
from calendly_elt.runner.failures import clear_errors
from calendly_elt.runner.interrupted_packages import finish_interrupted_commits
from calendly_elt.runner.status import quarantined_since, row_counts
from calendly_elt.runner.warehouse_lock import confirm_warehouse_lock, warehouse_lock
from calendly_elt.webhooks.landing import landing_files

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one run did.

    Attributes:
        kind: ``backfill``, ``incremental``, ``full_refresh`` or ``since``.
        windows: Windows read by this invocation (a resumed run counts all).
        events: Events read.
        invitee_calls: Events whose invitees were fetched.
        requests: HTTP requests the client sent (retries and refreshes included).
        deleted: Rows newly queued as deleted.
        packages: Load packages loaded (checkpoints).
        seconds: Wall time.
        row_counts: Rows per raw table after the run (live, deleted).
        quarantined: Records this run set aside for breaking the raw contract.
    """

    kind: str = ""
    windows: int = 0
    events: int = 0
    invitee_calls: int = 0
    requests: int = 0
    deleted: int = 0
    packages: int = 0
    seconds: float = 0.0
    row_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    quarantined: int = 0


def run_extraction(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    *,
    full_refresh: bool = False,
    since: datetime | None = None,
    now: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[WindowProgress], None] | None = None,
    client_options: dict[str, Any] | None = None,
    take_lock: bool = True,
    cancel: threading.Event | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Extract the organization and load it, checkpointing window by window.

    Args:
        pipeline: From :func:`~calendly_elt.runner.destination.make_pipeline`.
        settings: Resolved settings (``resolve_settings``).
        full_refresh: Re-read every window and every invitee.
        since: Re-read every window and invitee from this instant (backfill).
        now: The clock; default wall-clock UTC (the simulator's clock in the demo).
        transport: An httpx transport (the in-process simulator).
        progress: Called after every window.
        client_options: Extra ``CalendlyClient`` arguments (e.g. ``sleep``, ``clock``).
        take_lock: Hold the pipeline's lock during the run (and its row
            counts); False when the caller holds it already (``job.run_job``
            builds the models under it too).
        cancel: Set it (from a signal handler) to stop: threads waiting for the
            rate limit or a retry wake at once and nothing more is requested.
        monotonic: The clock checkpoints are timed by (``checkpoint_seconds``).

    Returns:
        The run's summary.

    Raises:
        PipelineLockedError: Another run holds the lock.
        CalendlyEltError: The API refused, or the load failed.
        KeyboardInterrupt: Interrupted (also when dlt had wrapped the interrupt);
            the next run resumes from the last checkpoint.
    """
    started = time.monotonic()
    started_at = datetime.now(UTC)  # wall clock: quarantine rows are stamped with it
    options = RunOptions(
        full_refresh=full_refresh,
        since=since,
        checkpoint_events=settings.checkpoint_events,
        checkpoint_seconds=settings.checkpoint_seconds,
        now=now or wall_clock,
        monotonic=monotonic,
        progress=progress,
    )
    client = build_client(
        settings, transport=transport, now=options.now, cancel=cancel, **(client_options or {})
    )
    # while the lock is held, `status` does not open the destination (see status.read_status)
    with warehouse_lock(pipeline) if take_lock else nullcontext(), duckdb_kept_open(pipeline):
        try:
            summary = _run_locked(pipeline, settings, client, options)
        finally:
            client.close()
        summary.requests = client.request_count
        summary.seconds = time.monotonic() - started
        summary.row_counts = row_counts(pipeline)
        summary.quarantined = quarantined_since(pipeline, started_at)
    return summary


def _run_locked(
    pipeline: dlt.Pipeline, settings: CalendlySettings, client: CalendlyClient, options: RunOptions
) -> RunSummary:
    summary = RunSummary()
    summary.packages += finish_pending(pipeline)
    reach = Reach(client, settings)
    run = options
    while True:
        source = calendly_source(settings, run, client, reach)
        cursor = _extract(pipeline, source.with_resources(*EVENT_RESOURCES), summary)
        summary.kind = cursor.get("kind", summary.kind)
        if _sync_state(pipeline).run is None:
            break
        # a checkpoint: the next call resumes the run (a full refresh is not restarted)
        run = replace(options, full_refresh=False, since=None)
    _note_run(pipeline, summary)
    dimensions = calendly_source(settings, options, client, reach)
    # the deletions queued by the last event extraction are still in state: count them once
    counted = RunSummary()
    _extract(pipeline, dimensions.with_resources(*DIMENSION_RESOURCES), counted)
    if landing_files(settings.webhook_landing_dir):
        # last: a delivery is merged only if newer than what this run's batch read
        _extract(pipeline, dimensions.with_resources(*WEBHOOK_RESOURCES), counted)
    # nothing ever landed: no webhook cycle (an empty extract/normalize/load, ~0.5 s a run)
    summary.packages += counted.packages
    _note_requests(pipeline, client.request_count)
    return summary


def merge_landed_webhooks(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    *,
    now: Callable[[], datetime] | None = None,
    take_lock: bool = True,
) -> RunSummary:
    """Load the webhook deliveries landed since the last merge, without calling Calendly.

    What ``calendly-elt webhooks load`` does (every run does it too, last):
    see ``calendly/helpers/webhook_merge.py`` for the rule.

    Raises:
        PipelineLockedError: Another run holds the lock.
    """
    started = time.monotonic()
    with warehouse_lock(pipeline) if take_lock else nullcontext(), duckdb_kept_open(pipeline):
        summary = RunSummary(kind="webhooks")
        summary.packages += finish_pending(pipeline)
        source = calendly_source(settings, RunOptions(now=now or wall_clock))
        _extract(pipeline, source.with_resources(*WEBHOOK_RESOURCES), summary)
        summary.seconds = time.monotonic() - started
        summary.row_counts = row_counts(pipeline)
    return summary


def _extract(pipeline: dlt.Pipeline, source: Any, summary: RunSummary) -> dict[str, Any]:
    """Extract one source selection, load it and apply its soft deletes."""
    with clear_errors("extracting from Calendly"):
        pipeline.extract(source, loader_file_format=_file_format(pipeline))
    run = _sync_state(pipeline).run
    summary.packages += _normalize_and_load(pipeline)
    summary.deleted += apply_pending_deletions(pipeline)
    return run.to_state() if run else {}


def _normalize_and_load(pipeline: dlt.Pipeline) -> int:
    confirm_warehouse_lock(pipeline)  # never load without the lock (a dropped session)
    with clear_errors(f"loading into {describe_destination(pipeline)}"):
        pipeline.normalize()
        info: LoadInfo | None = pipeline.load()
    return len(info.loads_ids) if info else 0


def _file_format(pipeline: dlt.Pipeline) -> Any:
    """Parquet where the destination loads it natively (DuckDB); dlt's default elsewhere.

    DuckDB executing dlt's ``insert_values`` files took 43% of a backfill's CPU.
    """
    destination = pipeline.destination
    if destination is not None and destination.destination_type.endswith("duckdb"):
        return "parquet"
    return None


def finish_pending(pipeline: dlt.Pipeline) -> int:
    """Restore state from the destination if needed, load what a crashed run left.

    Returns:
        The number of load packages loaded.
    """
    with clear_errors(f"reading state from {describe_destination(pipeline)}"):
        pipeline.sync_destination()
    loaded = 0
    finish_interrupted_commits(pipeline)
    if pipeline.has_pending_data:
        logger.warning("loading the packages a previous run left behind")
        loaded = _normalize_and_load(pipeline)
    apply_pending_deletions(pipeline)
    return loaded


def _note_run(pipeline: dlt.Pipeline, summary: RunSummary) -> None:
    history = _sync_state(pipeline).history
    if history:
        last = history[-1]
        summary.windows, summary.events = last["windows"], last["events"]
        summary.invitee_calls = last["invitee_calls"]
        summary.kind = last["kind"]


def _note_requests(pipeline: dlt.Pipeline, requests: int) -> None:
    """Count the dimensions' requests too in the run's history entry.

    The entry is written when the events are done, before the dimensions are
    read. This update is saved locally only: it reaches the destination with
    the next run's first load (a package for it alone would cost a load).
    """
    with pipeline.managed_state() as state:
        history = state.get("sources", {}).get("calendly", {}).get("history")
        if history:
            history[-1]["requests"] = requests


def _sync_state(pipeline: dlt.Pipeline) -> SyncState:
    return SyncState(source_state_of(pipeline))
