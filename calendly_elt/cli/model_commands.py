"""``calendly-elt models`` and ``calendly-elt report``: build the SQL models, show the metrics."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from calendly_elt.cli.main import app
from calendly_elt.cli.options import PipelinesDirOption
from calendly_elt.cli.signals import stop_on_signals
from calendly_elt.errors import CalendlyEltError, ConfigError
from calendly_elt.models.dbt_build import DbtBuildResult, build_with_dbt
from calendly_elt.models.errors import MartsMissingError, RawDataMissingError
from calendly_elt.models.report import FORMATS, render_report
from calendly_elt.models.runner import build_models
from calendly_elt.runner import DEFAULT_DUCKDB_PATH, PipelineLockedError, make_pipeline
from calendly_elt.runner.warehouse_lock import warehouse_lock, warehouse_lock_holder

logger = logging.getLogger(__name__)

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Judge held vs upcoming at this instant (ISO 8601 with zone; default now);"
        " not a snapshot of the past: cancellations are taken as loaded.",
    ),
]
DestinationOption = Annotated[
    str | None, typer.Option("--destination", help="dlt destination name (default duckdb).")
]
DuckdbOption = Annotated[
    Path | None, typer.Option("--duckdb", help="DuckDB file of the warehouse.")
]


BUILDERS = ("embedded", "dbt")
# what Ctrl-C/SIGTERM during a build prints (exit 130): a build is all or nothing
MODELS_INTERRUPTED = "interrupted; the models were not rebuilt: run `calendly-elt models` again"


class SqlTestsFailedError(CalendlyEltError):
    """Some SQL tests returned rows."""


class DbtBuildFailedError(CalendlyEltError):
    """``dbt build`` reported a failing test or model."""


def _parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ConfigError(f"--as-of {text!r} is not an ISO 8601 timestamp") from error
    if moment.tzinfo is None:
        raise ConfigError(f"--as-of {text!r} needs a timezone, e.g. {moment.isoformat()}Z")
    return moment


def _missing_duckdb_file(destination: str | None, duckdb: Path | None) -> bool:
    """Whether the DuckDB warehouse file does not exist (opening it would create it empty)."""
    return destination in (None, "duckdb") and not Path(duckdb or DEFAULT_DUCKDB_PATH).exists()


@app.command("models")
def models_command(
    as_of: AsOfOption = None,
    destination: DestinationOption = None,
    duckdb: DuckdbOption = None,
    pipelines_dir: PipelinesDirOption = None,
    test: Annotated[
        bool, typer.Option("--test", help="Run the SQL tests after the build.")
    ] = False,
    builder: Annotated[
        str,
        typer.Option(
            "--with",
            help="embedded (default) or dbt: `dbt build` of sql/, models and all their tests"
            " (needs pip install 'calendly-elt[dbt]').",
        ),
    ] = "embedded",
) -> None:
    """Build the SQL models (staging, intermediate, marts) in dependency order.

    The build holds the warehouse's lock, as a run does (exit 3 while a run
    loads); Ctrl-C or SIGTERM stops it with one line and exit 130.
    """
    if builder not in BUILDERS:
        raise ConfigError(f"--with must be one of {', '.join(BUILDERS)}, not {builder!r}")
    moment = _parse_as_of(as_of)
    if _missing_duckdb_file(destination, duckdb):
        raise RawDataMissingError(
            f"no DuckDB warehouse at {duckdb or DEFAULT_DUCKDB_PATH}: run `calendly-elt run` first"
        )
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    # never rebuild under a run's feet; a signal ends the build, and the lock with it
    with stop_on_signals(MODELS_INTERRUPTED), warehouse_lock(pipeline):
        if builder == "dbt":
            _echo_dbt_build(build_with_dbt(pipeline, as_of=moment))
            return
        result = build_models(pipeline, as_of=moment, run_tests=test)
    typer.echo(
        f"built {len(result.models)} models in {result.analytics_schema} "
        f"as of {result.as_of.isoformat()} in {result.seconds:.2f}s"
    )
    if result.tests_ran:
        for failure in result.test_failures:
            typer.echo(f"FAIL {failure}")
        if result.test_failures:
            raise SqlTestsFailedError(f"{len(result.test_failures)} SQL test(s) failed")
        typer.echo("all SQL tests passed")


def _echo_dbt_build(result: DbtBuildResult) -> None:
    typer.echo(
        f"dbt built {result.count('model')} models and ran {result.count('test')} tests in "
        f"{result.analytics_schema} as of {result.as_of.isoformat()} in {result.seconds:.2f}s"
    )
    for failure in result.failures:
        typer.echo(f"FAIL {failure}")
    if result.failures:
        raise DbtBuildFailedError(f"dbt build: {len(result.failures)} model(s)/test(s) not passed")
    typer.echo("all dbt tests passed")


@app.command("report")
def report_command(
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "table",
    destination: DestinationOption = None,
    duckdb: DuckdbOption = None,
    pipelines_dir: PipelinesDirOption = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Write every chart as one self-contained HTML page to this file."
        ),
    ] = None,
) -> None:
    """Show the headline metrics: UTM sources, no-shows and cancellations by month."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if html is not None and not html.parent.is_dir():
        raise ConfigError(f"--html {html}: the folder {html.parent} does not exist")
    if _missing_duckdb_file(destination, duckdb):
        raise MartsMissingError(
            f"no DuckDB warehouse at {duckdb or DEFAULT_DUCKDB_PATH}: run `calendly-elt run` first"
        )
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    holder = warehouse_lock_holder(pipeline)
    if holder is not None and destination in (None, "duckdb"):
        raise PipelineLockedError(
            f"a run (pid {holder.pid}) is loading {duckdb or DEFAULT_DUCKDB_PATH}: opening the "
            "file now would make it fail; retry when it ends (`calendly-elt status` is safe)"
        )
    if html is not None:
        # matplotlib and pandas (1.4 s to import) only when a page is drawn, not on every command
        from calendly_elt.models.html_report import write_html

        write_html(pipeline, html)
        typer.echo(f"wrote {html}")
        return
    typer.echo(render_report(pipeline, fmt=fmt), nl=False)
