"""The ``calendly-elt`` command: thin commands over library calls.

Each command group lives in its own module and registers itself on ``app``;
``main`` is the single place that turns a ``CalendlyEltError`` into a one-line
message on stderr and a non-zero exit (``--debug`` shows the traceback). A
DuckDB lock conflict or a destination's missing credentials field (dlt's
"Missing N field(s)"), whatever wraps it, becomes one such line too. An
interrupt (Ctrl-C, SIGTERM in ``run``/``backfill``/``demo``), even one dlt
wrapped in its own exception, exits 130 with one line, not as a failure.

Global options: ``-h``/``--help`` everywhere, ``--version``, ``--quiet``
(cron: nothing on stdout, only errors on stderr), ``--log-format json|text``
(``logs.py``), ``--verbose``, ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer

# typer 0.29 vendors click; its parsing errors are these classes, not the click package's
from typer._click import exceptions as click_errors

from calendly_elt.cli.logs import LOG_FORMATS, configure_logging, is_json, json_line, print_error
from calendly_elt.errors import (
    CalendlyEltError,
    RunInterruptedError,
    database_in_use,
    interrupt_in,
    missing_configuration,
)

# plain (not rich) help: flags show as `--full-refresh`, not `--full-refresh <bool>`
APP_SETTINGS: dict[str, Any] = {
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

app = typer.Typer(
    name="calendly-elt",
    help="Calendly -> DuckDB / warehouse ELT, SQL models and metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    **APP_SETTINGS,
)


def sub_app(help_text: str) -> typer.Typer:
    """A command group (``sim``, ``auth``, ``webhooks``) shaped like ``app``."""
    return typer.Typer(help=help_text, no_args_is_help=True, **APP_SETTINGS)


_state: dict[str, Any] = {"debug": False, "stdout": None}


def package_version() -> str:
    """The installed package's version (its metadata), ``unknown`` if not installed."""
    try:
        return version("calendly-elt")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"calendly-elt {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress at INFO level."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="For cron: nothing on stdout, only errors on stderr."
    ),
    log_format: str = typer.Option(
        "text",
        "--log-format",
        metavar="text|json",
        help="stderr as text lines or JSON objects (one per line).",
    ),
    _version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help="Show the version."
    ),
) -> None:
    """Calendly -> DuckDB / warehouse ELT, SQL models and metrics."""
    if log_format not in LOG_FORMATS:
        raise click_errors.BadParameter(
            f"must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}",
            param_hint="'--log-format'",
        )
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    configure_logging(logging.ERROR if quiet and not debug else level, log_format, quiet=quiet)
    # httpx logs every URL (with e-mail filters and page tokens) at INFO: keep it for --debug
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
    if quiet:  # results too: main() puts stdout back when the command ends
        _state["stdout"] = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed by main()


def _register_commands() -> None:
    """Import the command modules; each adds its commands to ``app``."""
    from calendly_elt.cli import (  # noqa: F401
        auth_commands,
        demo_command,
        model_commands,
        pipeline_commands,
        sim_commands,
        webhook_commands,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: run a command, map errors to exit codes."""
    _register_commands()
    try:
        return _run_app(argv)
    finally:
        quieted, _state["stdout"] = _state["stdout"], None
        if quieted is not None:
            sys.stdout.close()
            sys.stdout = quieted


def _run_app(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="calendly-elt", standalone_mode=False)
    except RunInterruptedError as error:
        if _state["debug"]:
            raise
        return _interrupted(str(error))
    except CalendlyEltError as error:
        if _state["debug"]:
            raise
        if interrupt_in(error) is not None:
            return _interrupted()
        shown = database_in_use(error) or missing_configuration(error) or error
        print_error(str(shown), exit_code=shown.exit_code)
        return shown.exit_code
    except click_errors.NoArgsIsHelpError as error:  # a bare group: its help, as typer does
        text = error.ctx.get_help() if error.ctx else ""  # rich help prints itself
        if text.strip():
            print(text)
        return error.exit_code
    except click_errors.ClickException as error:  # a bad option or argument: one line, not a box
        print_error(f"{error.format_message()}{_help_hint(error)}", exit_code=error.exit_code)
        return error.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except Exception as error:  # a DuckDB lock conflict or an interrupt not wrapped; else a bug
        if _state["debug"]:
            raise
        if interrupt_in(error) is not None:
            return _interrupted()
        known = database_in_use(error) or missing_configuration(error)
        if known is None:
            raise
        print_error(str(known), exit_code=known.exit_code)
        return known.exit_code
    return result if isinstance(result, int) else 0


def _interrupted(message: str = "interrupted") -> int:
    if is_json():
        print(json_line("WARNING", "calendly_elt.cli", message, exit_code=130), file=sys.stderr)
        return 130
    if sys.stderr.isatty():  # end the progress line (or the echoed ^C) first
        print(file=sys.stderr)
    print(message, file=sys.stderr)
    return 130


def _help_hint(error: click_errors.ClickException) -> str:
    context = getattr(error, "ctx", None)
    return f" (see {context.command_path} --help)" if context else ""


if __name__ == "__main__":
    # run as `python -m calendly_elt.cli.main`: dispatch to the imported module, on whose
    # `app` the command modules register (this file is a second copy when run as __main__)
    from calendly_elt.cli import main as cli_module

    sys.exit(cli_module.main())
