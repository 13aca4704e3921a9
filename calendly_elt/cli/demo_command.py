"""``calendly-elt demo``: the whole job on the bundled simulator, into a DuckDB file it owns."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.cli.main import app
from calendly_elt.cli.options import DuckdbOption, no_telemetry, quiet_dlt
from calendly_elt.cli.progress import print_summary, progress_printer
from calendly_elt.cli.signals import stop_on_signals
from calendly_elt.errors import ConfigError
from calendly_elt.models.report import render_report
from calendly_elt.runner import (
    DEFAULT_DUCKDB_PATH,
    PipelineLockedError,
    duckdb_state_dir,
    make_pipeline,
    run_job,
)
from calendly_elt.runner.run_history import recorded_run
from calendly_elt.runner.warehouse_lock import warehouse_lock_holder

DEMO_MARKER = "calendly-elt-demo"


@app.command("demo")
def demo_command(
    duckdb: DuckdbOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated organization.")] = 7,
    size: Annotated[str, typer.Option(help="Organization size: tiny, small, medium.")] = "small",
) -> None:
    """Run the whole job on the bundled simulator: extract, load, models, report."""
    from calendly_elt.simulator import SimConfig, Simulator, generate_organization

    quiet_dlt()
    no_telemetry()  # a demo on simulated data reports nothing to dlt's telemetry
    database = Path(duckdb or DEFAULT_DUCKDB_PATH)
    _reset_demo_database(database)
    try:
        store = generate_organization(seed=seed, size=size)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    typer.echo(f"simulated organization: {len(store.events)} events, {len(store.users)} users")
    typer.echo(
        f"its clock is fixed at {store.clock.now():%Y-%m-%d %H:%M:%S} UTC (the same every demo):"
        " the models' as_of and the data's extent are that instant, not today"
    )
    simulator = Simulator(store, SimConfig(requests_per_minute=1_000_000))
    settings = resolve_settings(
        access_token=simulator.admin_token,
        base_url="https://api.calendly.com",
        requests_per_minute=1_000_000,
    )
    pipeline = make_pipeline(duckdb_path=database)
    _mark_demo(database)
    # a demo starts over: nothing to resume after an interrupt
    with recorded_run(pipeline, "demo") as recorder, stop_on_signals("interrupted") as cancel:
        result = recorder.result = run_job(
            pipeline,
            settings,
            as_of=store.clock.now(),
            on_extracted=print_summary,
            now=store.clock.now,
            transport=simulator.transport(),
            cancel=cancel,
            **recorder.extraction_options(progress_printer()),
        )
    typer.echo(f"models built: {len(result.models.models) if result.models else 0}")
    typer.echo(render_report(pipeline).rstrip("\n"))
    typer.echo(f"loaded into {database.resolve()} (dataset calendly, marts calendly_analytics)")


def _reset_demo_database(database: Path) -> None:
    """Start the demo from scratch; never overwrite a database the demo did not make.

    Raises:
        PipelineLockedError: A run (or a demo) is using the file right now.
    """
    made_by_demo = (duckdb_state_dir(database) / DEMO_MARKER).exists()
    holder = warehouse_lock_holder(make_pipeline(duckdb_path=database)) if made_by_demo else None
    if holder is not None:
        raise PipelineLockedError(
            f"{database} is in use by a run (pid {holder.pid}); wait for it or use another --duckdb"
        )
    state_dir = duckdb_state_dir(database)
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
    state_dir = duckdb_state_dir(database)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / DEMO_MARKER).write_text("made by calendly-elt demo; safe to delete\n")
