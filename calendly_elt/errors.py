"""The one exception family of calendly-elt.

Every error a user can cause or fix (bad config, bad input, an API refusal, a
failed model build) is a ``CalendlyEltError`` with a message that says what
went wrong and what to do. The CLI turns these into one line on stderr and a
non-zero exit; anything else is a bug and shows a traceback with ``--debug``.
Messages must never contain secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class CalendlyEltError(Exception):
    """Base of every expected, user-facing failure."""

    exit_code = 1


class ConfigError(CalendlyEltError):
    """Missing or invalid configuration or command-line input."""

    exit_code = 2


class DatabaseInUseError(CalendlyEltError):
    """Another process holds the DuckDB file's lock (DuckDB allows one writing process)."""

    exit_code = 3


_DUCKDB_LOCK_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)"(?:[^\n]*?\(PID (?P<pid>\d+)\))?'
)


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception behind it, each once, nearest first.

    Follows ``__cause__``, ``__context__`` and dlt's ``exception`` attribute
    (``PipelineStepFailed`` wraps the failure of a step there). The one walk of
    exception chains in the code base: every "is there an X behind this
    error?" question asks it.
    """
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "exception", None))
        pending.extend(item for item in linked if isinstance(item, BaseException))


def first_in_chain(error: BaseException, kind: type[E]) -> E | None:
    """The nearest exception of type ``kind`` in :func:`exception_chain`, or None."""
    for current in exception_chain(error):
        if isinstance(current, kind):
            return current
    return None


def database_in_use(error: BaseException) -> DatabaseInUseError | None:
    """The one-line error for a DuckDB lock conflict found in ``error`` or what it wraps.

    DuckDB refuses a second process on a file another process has open ("Could
    not set lock on file ... Conflicting lock is held"); dlt wraps that in a
    long message about credentials.

    Returns:
        The error to show, or None if ``error`` is not a lock conflict.
    """
    for current in exception_chain(error):
        if isinstance(current, DatabaseInUseError):
            return current
        found = _DUCKDB_LOCK_CONFLICT.search(str(current))
        if found:
            holder = f"pid {found['pid']}: " if found["pid"] else ""
            conflict = DatabaseInUseError(
                f"the DuckDB file {found['path']} is in use by another process ({holder}a run, "
                "a notebook or a duckdb shell): close it and retry"
            )
            conflict.__cause__ = error
            return conflict
    return None


INTERRUPTED = "interrupted; rerun to resume from the last checkpoint"


class RunInterruptedError(CalendlyEltError):
    """Ctrl-C or SIGTERM stopped the command; what was committed stays (exit 130)."""

    exit_code = 130

    def __init__(self, message: str = INTERRUPTED) -> None:
        super().__init__(message)


def interrupt_in(error: BaseException) -> KeyboardInterrupt | None:
    """The ``KeyboardInterrupt`` behind ``error``, if any.

    dlt catches a ``KeyboardInterrupt`` raised inside a pipeline step and raises
    its own ``PipelineStepFailed`` (an ``Exception``) from it, so an interrupt
    may arrive wrapped anywhere in :func:`exception_chain`.
    """
    return first_in_chain(error, KeyboardInterrupt)


def one_line(error: BaseException) -> str:
    """``Type: first line`` of the root cause of ``error`` (what a one-line message quotes)."""
    root: BaseException = error
    while root.__cause__ is not None:
        root = root.__cause__
    text = str(root).strip().splitlines()
    return f"{type(root).__name__}: {text[0] if text else ''}"
