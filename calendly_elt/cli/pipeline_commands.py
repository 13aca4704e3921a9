"""``calendly-elt run | backfill | status``: the extraction job and its state.

Thin commands over :mod:`calendly_elt.runner`. Results go to stdout; progress
(windows done/total, events, invitee calls, requests) goes to stderr. Ctrl-C
and SIGTERM stop a run at once: exit 130 with one line (``signals.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from calendly_elt.calendly.config import parse_start_date, resolve_settings
from calendly_elt.calendly.helpers.windows import FAR_FUTURE
from calendly_elt.cli.main import app
from calendly_elt.cli.options import (
    DestinationOption,
    DuckdbOption,
    PipelinesDirOption,
    SkipModelsOption,
    quiet_dlt,
)
from calendly_elt.cli.progress import print_counts, print_summary, progress_printer
from calendly_elt.cli.signals import stop_on_signals
from calendly_elt.errors import ConfigError
from calendly_elt.models.errors import MartsMissingError, RawDataMissingError
from calendly_elt.models.report_context import ReportContext, report_context
from calendly_elt.runner import (
    DEFAULT_DUCKDB_PATH,
    JobResult,
    LockHolder,
    RecordsQuarantinedError,
    StatusReport,
    is_duckdb,
    make_pipeline,
    read_status,
    run_job,
)
from calendly_elt.runner.run_history import describe_run, last_success, read_runs, recorded_run
from calendly_elt.runner.warehouse_lock import warehouse_lock_holder


def _extract_and_build(
    pipeline: Any,
    command: str,
    *,
    full_refresh: bool = False,
    since: datetime | None = None,
    skip_models: bool = False,
) -> None:
    """The job, recorded in run history however it ends (a failure included)."""
    with recorded_run(pipeline, command) as recorder:
        settings = resolve_settings()
        with stop_on_signals() as cancel:
            recorder.result = run_job(
                pipeline,
                settings,
                build=not skip_models,
                on_extracted=print_summary,
                full_refresh=full_refresh,
                since=since,
                cancel=cancel,
                **recorder.extraction_options(progress_printer()),
            )
        _check_quarantine(recorder.result, settings.fail_on_quarantine)


def _check_quarantine(result: JobResult, fail_on_quarantine: bool) -> None:
    if result.models is not None:
        typer.echo(f"models built: {len(result.models.models)}")
    quarantined = result.extraction.quarantined
    if quarantined and fail_on_quarantine:
        raise RecordsQuarantinedError(
            f"{quarantined} record(s) broke the raw-table contract and were quarantined "
            "(table calendly.quarantine: resource, key, reason, raw JSON); everything else "
            "was loaded and the models were built. Set fail_on_quarantine = false to exit 0"
        )


@app.command("run")
def run_command(
    duckdb: DuckdbOption = None,
    destination: DestinationOption = None,
    pipelines_dir: PipelinesDirOption = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Re-read every window and every invitee.")
    ] = False,
    skip_models: SkipModelsOption = False,
) -> None:
    """Extract Calendly incrementally, load it, then build the SQL models."""
    quiet_dlt()
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    _extract_and_build(pipeline, "run", full_refresh=full_refresh, skip_models=skip_models)


@app.command("backfill")
def backfill_command(
    since: Annotated[
        str, typer.Option("--since", help="Re-read everything from this date (YYYY-MM-DD).")
    ],
    duckdb: DuckdbOption = None,
    destination: DestinationOption = None,
    pipelines_dir: PipelinesDirOption = None,
    skip_models: SkipModelsOption = False,
) -> None:
    """Re-read every event and invitee starting on or after --since."""
    quiet_dlt()
    try:
        start = parse_start_date(since)
    except ConfigError:
        raise ConfigError(
            f"--since must be a date like 2024-01-31 or an ISO timestamp, got {since!r}"
        ) from None
    if start > datetime.now(UTC):
        raise ConfigError(f"--since {since} is in the future")
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    _extract_and_build(pipeline, "backfill", since=start, skip_models=skip_models)


@app.command("status")
def status_command(
    duckdb: DuckdbOption = None,
    destination: DestinationOption = None,
    pipelines_dir: PipelinesDirOption = None,
    last: Annotated[
        int, typer.Option("--last", "-n", min=1, help="How many runs of run history to list.")
    ] = 5,
) -> None:
    """Show the last runs, the windows covered, requests spent, row counts and as_of.

    While a run is in progress, only its local state is read: opening the
    DuckDB file beside a run would make the run fail. Otherwise a DuckDB file
    is opened read-only.
    """
    quiet_dlt()
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir, read_only=True
    )
    if (
        is_duckdb(destination)
        and not (duckdb or DEFAULT_DUCKDB_PATH).exists()
        and warehouse_lock_holder(pipeline) is None
    ):
        # the same error (and exit code 1) as `models` and `report` for the same missing file
        raise RawDataMissingError(
            f"no DuckDB warehouse at {duckdb or DEFAULT_DUCKDB_PATH}: run `calendly-elt run` first"
        )
    report = read_status(pipeline)
    _print_status(report)
    if report.live_run is None or report.pending_packages is not None:  # the warehouse was read
        _print_history(pipeline, last)


def _print_history(pipeline: Any, last: int) -> None:
    """What the warehouse says: the marts' as_of and extent, the last runs (run history)."""
    try:
        context: ReportContext | None = report_context(pipeline)
    except (MartsMissingError, RawDataMissingError):
        context = None
    if context is None:
        typer.echo("as_of: models not built yet (`calendly-elt models`)")
    else:
        typer.echo("\n".join(context.lines()[:2]))  # the last successful run: above
    runs = read_runs(pipeline, last)
    if not runs:
        typer.echo("run history: no runs recorded yet")
        return
    success = last_success(pipeline) if all(r.outcome != "succeeded" for r in runs) else None
    typer.echo("last runs (newest first):")
    for run in runs:
        typer.echo(f"  {describe_run(run)}")
    if success is not None:
        typer.echo(f"last succeeded run: {describe_run(success)}")


def _print_status(report: StatusReport) -> None:
    typer.echo(f"destination: {report.destination}")
    live = report.live_run
    if live:
        typer.echo(f"{_describe_live_run(live)}: figures below are from its last checkpoint")
    typer.echo(f"last successful run: {_when(report.last_success_at)}")
    last = report.last_run
    if last:
        typer.echo(
            f"last run: {last['kind']} {last['range_start'][:10]}..{last['range_end'][:10]}, "
            f"{last['windows']} windows, {last['events']} events, "
            f"{last['invitee_calls']} invitee calls, {last['requests']} requests"
        )
    covered = ", ".join(_covered_range(start, end) for start, end in report.covered)
    typer.echo(f"start times covered: {covered or 'none'}")
    run = report.run_in_progress
    if run and live:
        typer.echo(
            f"current {run['kind']} run: {run['windows_done']} windows checkpointed, "
            f"next from {run['next_start'][:19]}"
        )
    elif run:
        typer.echo(
            f"unfinished {run['kind']} run: {run['windows_done']} windows done, "
            f"resumes at {run['next_start'][:19]} (run again to finish)"
        )
    if report.pending_packages:
        typer.echo(f"load packages waiting: {report.pending_packages} (loaded by the next run)")
    if live and report.pending_packages is None:  # the destination was not opened
        typer.echo("row counts: not read while a run is in progress (status again once it ends)")
    else:
        print_counts(report.row_counts)


def _covered_range(start: datetime, end: datetime) -> str:
    """``2024-01-15..2025-01-15``, or ``2024-01-15 onwards`` when read past the horizon."""
    return f"{start:%Y-%m-%d} onwards" if end >= FAR_FUTURE else f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"


def _describe_live_run(holder: LockHolder) -> str:
    where = "" if holder.on_this_host else f" on {holder.host}"
    since = f", started {_when(holder.since)}" if holder.since else ""
    who = f"pid {holder.pid}{where}" if holder.pid is not None else f"a session from {holder.host}"
    return f"run in progress ({who}{since})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"
