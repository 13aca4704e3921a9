"""``calendly-elt run | backfill | demo | status``: the extraction job.

Thin commands over :mod:`calendly_elt.runner`. Results go to stdout; progress
(windows done/total, events, invitee calls, requests) goes to stderr. Ctrl-C
and SIGTERM stop a run at once: exit 130 with one line (see ``_stop_on_signals``).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from calendly_elt.calendly import WindowProgress
from calendly_elt.calendly.config import parse_start_date, resolve_settings
from calendly_elt.cli.main import app
from calendly_elt.errors import INTERRUPTED, ConfigError, RunInterruptedError, interrupt_in
from calendly_elt.models.report import render_report
from calendly_elt.models.runner import build_models
from calendly_elt.runner import (
    DEFAULT_DUCKDB_PATH,
    LockHolder,
    RunSummary,
    StatusReport,
    live_lock_holder,
    lock_path,
    make_pipeline,
    pipeline_lock,
    read_status,
    run_extraction,
)

logger = logging.getLogger(__name__)

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
DEMO_MARKER = "calendly-elt-demo"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _quiet_dlt() -> None:
    """Show dlt's own warnings (e.g. columns without data yet) only with --verbose."""
    if not logging.getLogger().isEnabledFor(logging.INFO):
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
        logging.getLogger("dlt").setLevel(logging.ERROR)


@contextmanager
def _stop_on_signals(message: str = INTERRUPTED) -> Iterator[threading.Event]:
    """Make Ctrl-C and SIGTERM stop the run at once, ending in ``RunInterruptedError``.

    The handler sets the yielded event, which every rate-limit and retry wait of
    the client is taken on (worker threads waiting up to a minute wake at once),
    then raises ``KeyboardInterrupt`` in the main thread. dlt wraps that in its
    own exception (and intercepts the signals itself while normalizing and
    loading, raising a ``KeyboardInterrupt`` subclass later), so the whole
    exception chain is searched for it.
    """
    cancel = threading.Event()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        cancel.set()
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield cancel
    except BaseException as error:
        if interrupt_in(error) is None:
            raise
        raise RunInterruptedError(message) from error
    finally:
        for number, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(number, handler)


def _progress_printer() -> Callable[[WindowProgress], None]:
    interactive = sys.stderr.isatty()

    def show(update: WindowProgress) -> None:
        line = (
            f"{update.kind}: window {update.windows_done}/{update.windows_total} "
            f"({update.window.start:%Y-%m-%d}) - {update.events} events, "
            f"{update.invitee_calls} invitee calls, {update.requests} requests"
        )
        if interactive:
            end = "\n" if update.windows_done == update.windows_total else ""
            typer.echo(f"\r{line}\033[K", err=True, nl=False)
            typer.echo(end, err=True, nl=False)
        else:
            typer.echo(line, err=True)

    return show


def _print_summary(summary: RunSummary) -> None:
    typer.echo(
        f"{summary.kind or 'run'} done: {summary.windows} windows, {summary.events} events, "
        f"{summary.invitee_calls} invitee calls, {summary.requests} API requests, "
        f"{summary.deleted} rows marked deleted, {summary.seconds:.1f}s"
    )
    _print_counts(summary.row_counts)


def _print_counts(counts: dict[str, tuple[int, int]]) -> None:
    if not counts:
        typer.echo("no tables loaded yet")
        return
    width = max(len(name) for name in counts)
    typer.echo(f"{'table':<{width}}  {'rows':>8}  {'deleted':>7}")
    for name, (live, deleted) in counts.items():
        typer.echo(f"{name:<{width}}  {live:>8}  {deleted:>7}")


def _build_models(pipeline: Any, as_of: datetime | None) -> None:
    result = build_models(pipeline, as_of=as_of)
    typer.echo(f"models built: {len(result.models)}")


def _extract_and_build(
    pipeline: Any,
    *,
    full_refresh: bool = False,
    since: datetime | None = None,
    skip_models: bool = False,
) -> None:
    settings = resolve_settings()
    # the models are built under the run's lock too: `status` keeps off the database
    with _stop_on_signals() as cancel, pipeline_lock(lock_path(pipeline)):
        summary = run_extraction(
            pipeline,
            settings,
            full_refresh=full_refresh,
            since=since,
            progress=_progress_printer(),
            take_lock=False,
            cancel=cancel,
        )
        _print_summary(summary)
        if not skip_models:
            _build_models(pipeline, None)


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
    _quiet_dlt()
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    _extract_and_build(pipeline, full_refresh=full_refresh, skip_models=skip_models)


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
    _quiet_dlt()
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
    _extract_and_build(pipeline, since=start, skip_models=skip_models)


@app.command("status")
def status_command(
    duckdb: DuckdbOption = None,
    destination: DestinationOption = None,
    pipelines_dir: PipelinesDirOption = None,
) -> None:
    """Show the last run, the windows covered, requests spent and row counts.

    While a run is in progress, only its local state is read: opening the
    DuckDB file beside a run would make the run fail. Otherwise a DuckDB file
    is opened read-only.
    """
    _quiet_dlt()
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir, read_only=True
    )
    if (
        destination in (None, "duckdb")
        and not (duckdb or DEFAULT_DUCKDB_PATH).exists()
        and live_lock_holder(lock_path(pipeline)) is None
    ):
        raise ConfigError(f"no DuckDB file at {duckdb or DEFAULT_DUCKDB_PATH}: run first")
    _print_status(read_status(pipeline))


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
    covered = ", ".join(f"{start:%Y-%m-%d}..{end:%Y-%m-%d}" for start, end in report.covered)
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
    if live:
        typer.echo("row counts: not read while a run is in progress (status again once it ends)")
    else:
        _print_counts(report.row_counts)


def _describe_live_run(holder: LockHolder) -> str:
    where = "" if holder.on_this_host else f" on {holder.host}"
    since = f", started {_when(holder.since)}" if holder.since else ""
    return f"run in progress (pid {holder.pid}{where}{since})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


@app.command("demo")
def demo_command(
    duckdb: DuckdbOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated organization.")] = 7,
    size: Annotated[str, typer.Option(help="Organization size: tiny, small, medium.")] = "small",
) -> None:
    """Run the whole job on the bundled simulator: extract, load, models, report."""
    from calendly_elt.simulator import SimConfig, Simulator, generate_organization

    _quiet_dlt()
    database = Path(duckdb or DEFAULT_DUCKDB_PATH)
    _reset_demo_database(database)
    try:
        store = generate_organization(seed=seed, size=size)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    typer.echo(f"simulated organization: {len(store.events)} events, {len(store.users)} users")
    simulator = Simulator(store, SimConfig(requests_per_minute=1_000_000))
    settings = resolve_settings(
        access_token=simulator.admin_token,
        base_url="https://api.calendly.com",
        requests_per_minute=1_000_000,
    )
    pipeline = make_pipeline(duckdb_path=database)
    _mark_demo(database)
    # a demo starts over: nothing to resume after an interrupt
    with _stop_on_signals("interrupted") as cancel, pipeline_lock(lock_path(pipeline)):
        summary = run_extraction(
            pipeline,
            settings,
            now=store.clock.now,
            transport=simulator.transport(),
            progress=_progress_printer(),
            take_lock=False,
            cancel=cancel,
        )
        _print_summary(summary)
        _build_models(pipeline, store.clock.now())
        typer.echo(render_report(pipeline).rstrip("\n"))
    typer.echo(f"loaded into {database.resolve()} (dataset calendly, marts calendly_analytics)")


def _state_dir(database: Path) -> Path:
    return database.resolve().parent / f".{database.name}.dlt"


def _reset_demo_database(database: Path) -> None:
    """Start the demo from scratch; never overwrite a database the demo did not make."""
    state_dir = _state_dir(database)
    if not database.exists():
        shutil.rmtree(state_dir, ignore_errors=True)
        return
    if not (state_dir / DEMO_MARKER).exists():
        raise ConfigError(
            f"{database} exists and was not made by the demo; pass --duckdb demo.duckdb "
            "or remove it"
        )
    database.unlink()
    Path(f"{database}.wal").unlink(missing_ok=True)
    shutil.rmtree(state_dir, ignore_errors=True)


def _mark_demo(database: Path) -> None:
    state_dir = _state_dir(database)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / DEMO_MARKER).write_text("made by calendly-elt demo; safe to delete\n")
