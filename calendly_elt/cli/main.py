"""The ``calendly-elt`` command: thin commands over library calls.

Each command group lives in its own module and registers itself on ``app``;
``main`` is the single place that turns a ``CalendlyEltError`` into a one-line
message on stderr and a non-zero exit (``--debug`` shows the traceback). A
DuckDB lock conflict or a destination's missing credentials field (dlt's
"Missing N field(s)"), whatever wraps it, becomes one such line too. An
interrupt (Ctrl-C, SIGTERM in ``run``/``backfill``/``demo``), even one dlt
wrapped in its own exception, exits 130 with one line, not as a failure.
"""

from __future__ import annotations

import logging
import sys

import typer

# typer 0.29 vendors click; its parsing errors are these classes, not the click package's
from typer._click import exceptions as click_errors

from calendly_elt.errors import (
    CalendlyEltError,
    RunInterruptedError,
    database_in_use,
    interrupt_in,
    missing_configuration,
)

app = typer.Typer(
    name="calendly-elt",
    help="Calendly -> DuckDB / warehouse ELT, SQL models and metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress at INFO level."),
) -> None:
    """Calendly -> DuckDB / warehouse ELT, SQL models and metrics."""
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every URL (with e-mail filters and page tokens) at INFO: keep it for --debug
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)


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
        print(f"error: {shown}", file=sys.stderr)
        return shown.exit_code
    except click_errors.NoArgsIsHelpError as error:  # a bare group: its help, as typer does
        text = error.ctx.get_help() if error.ctx else ""  # rich help prints itself
        if text.strip():
            print(text)
        return error.exit_code
    except click_errors.ClickException as error:  # a bad option or argument: one line, not a box
        print(f"error: {error.format_message()}{_help_hint(error)}", file=sys.stderr)
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
        print(f"error: {known}", file=sys.stderr)
        return known.exit_code
    return result if isinstance(result, int) else 0


def _interrupted(message: str = "interrupted") -> int:
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
