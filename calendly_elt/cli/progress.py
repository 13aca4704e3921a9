"""What the extraction commands print: progress on stderr, results on stdout."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from calendly_elt.calendly import WindowProgress
from calendly_elt.runner import RunSummary


def progress_printer() -> Callable[[WindowProgress], None]:
    """A progress callback: one line per window, rewritten in place on a terminal."""
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
