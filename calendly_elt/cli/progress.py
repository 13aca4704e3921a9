"""What the extraction commands print: progress on stderr, results on stdout.

Progress takes one of four forms (:func:`progress_mode`): a bar rewritten in
place when stderr is a terminal; one plain line per window otherwise (a log
file, cron's mail); one JSON object per window with ``--log-format json``;
nothing with ``--quiet``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

import typer

from calendly_elt.calendly import WindowProgress
from calendly_elt.cli.logs import is_json, is_quiet, json_line
from calendly_elt.runner import RunSummary

BAR_WIDTH = 24


def progress_mode(stream: TextIO | None = None) -> str:
    """``bar`` (a terminal), ``lines`` (anything else), ``json`` or ``off`` (``--quiet``)."""
    if is_quiet():
        return "off"
    if is_json():
        return "json"
    stream = stream or sys.stderr
    terminal = stream.isatty() and os.environ.get("TERM") != "dumb"
    return "bar" if terminal else "lines"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#########...............]``: ``done`` of ``total`` as a bar ``width`` wide."""
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def describe_progress(update: WindowProgress) -> str:
    """The plain line of one window."""
    return (
        f"{update.kind}: window {update.windows_done}/{update.windows_total} "
        f"({update.window.start:%Y-%m-%d}) - {update.events} events, "
        f"{update.invitee_calls} invitee calls, {update.requests} requests"
    )


def progress_printer(
    stream: TextIO | None = None, mode: str | None = None
) -> Callable[[WindowProgress], None]:
    """A progress callback for the run's windows, in the form :func:`progress_mode` picks."""
    mode = mode or progress_mode(stream)

    def show(update: WindowProgress) -> None:
        out = stream or sys.stderr
        if mode == "off":
            return
        if mode == "json":
            fields = {
                "kind": update.kind,
                "windows_done": update.windows_done,
                "windows_total": update.windows_total,
                "window_start": update.window.start.isoformat(),
                "events": update.events,
                "invitee_calls": update.invitee_calls,
                "requests": update.requests,
            }
            line = json_line("INFO", "calendly_elt.progress", describe_progress(update), **fields)
            typer.echo(line, file=out)
        elif mode == "bar":
            bar = progress_bar(update.windows_done, update.windows_total)
            line = (
                f"{update.kind} {bar} {update.windows_done}/{update.windows_total} windows "
                f"({update.window.start:%Y-%m-%d}) - {update.events} events, "
                f"{update.requests} requests"
            )
            end = "\n" if update.windows_done == update.windows_total else ""
            typer.echo(f"\r{line}\033[K{end}", file=out, nl=False)
        else:
            typer.echo(describe_progress(update), file=out)

    return show


def print_summary(summary: RunSummary) -> None:
    """The run's one-line summary and its row counts (stdout)."""
    typer.echo(
        f"{summary.kind or 'run'} done: {summary.windows} windows, {summary.events} events, "
        f"{summary.invitee_calls} invitee calls, {summary.requests} API requests, "
        f"{summary.deleted} rows marked deleted, {summary.seconds:.1f}s"
        + (f", {summary.quarantined} records quarantined" if summary.quarantined else "")
    )
    print_counts(summary.row_counts)


def print_counts(counts: dict[str, tuple[int, int]]) -> None:
    """Rows per raw table, live and deleted (stdout)."""
    if not counts:
        typer.echo("no tables loaded yet")
        return
    width = max(len(name) for name in counts)
    typer.echo(f"{'table':<{width}}  {'rows':>8}  {'deleted':>7}")
    for name, (live, deleted) in counts.items():
        typer.echo(f"{name:<{width}}  {live:>8}  {deleted:>7}")
