"""The one exception family of calendly-elt.

Every error a user can cause or fix (bad config, bad input, an API refusal, a
failed model build) is a ``CalendlyEltError`` with a message that says what
went wrong and what to do. The CLI turns these into one line on stderr and a
non-zero exit; anything else is a bug and shows a traceback with ``--debug``.
Messages must never contain secrets.
"""

from __future__ import annotations

import re


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


def database_in_use(error: BaseException) -> DatabaseInUseError | None:
    """The one-line error for a DuckDB lock conflict found in ``error`` or what it wraps.

    DuckDB refuses a second process on a file another process has open ("Could
    not set lock on file ... Conflicting lock is held"); dlt wraps that in a
    long message about credentials. Walks ``__cause__``, ``__context__`` and
    dlt's ``exception`` attribute (``PipelineStepFailed``).

    Returns:
        The error to show, or None if ``error`` is not a lock conflict.
    """
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
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
        inner = getattr(current, "exception", None)
        for linked in (current.__cause__, current.__context__, inner):
            if isinstance(linked, BaseException):
                pending.append(linked)
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
    may arrive wrapped: ``error`` itself, its ``__cause__`` / ``__context__``
    chain and dlt's ``exception`` attributes are searched.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return current
        linked = (getattr(current, "exception", None), current.__cause__, current.__context__)
        stack.extend(item for item in linked if isinstance(item, BaseException))
    return None
