"""The one exception family of calendly-elt.

Every error a user can cause or fix (bad config, bad input, an API refusal, a
failed model build) is a ``CalendlyEltError`` with a message that says what
went wrong and what to do. The CLI turns these into one line on stderr and a
non-zero exit; anything else is a bug and shows a traceback with ``--debug``.
Messages must never contain secrets: every message is scrubbed of
token-looking strings (:func:`scrub`) on the way in, as a last line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)


_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|page_token)[\"']?\s*[=:]\s*[\"']?)"
        r"[A-Za-z0-9._~+/=-]+"
    ),
    # JWT-looking strings (Calendly's PATs and access tokens are JWTs).
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)


def scrub(text: str) -> str:
    """``text`` with bearer tokens, ``*_token=`` / ``client_secret=`` values and JWTs masked."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda match: match.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


class CalendlyEltError(Exception):
    """Base of every expected, user-facing failure.

    Its message arguments pass through :func:`scrub`: whatever a raise site
    quotes (an exception's text, a URL), a token-looking string never reaches
    the message.
    """

    exit_code = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


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


def missing_configuration(error: BaseException) -> ConfigError | None:
    """A one-line ConfigError for dlt's "Missing N field(s) in configuration", if behind ``error``.

    dlt says which configuration class lacks which field (``credentials``) and
    keeps the nested lookup (``password``) in its traces: the message names the
    missing field and the places to set it, never a value.
    """
    for current in exception_chain(error):
        if type(current).__name__ == "ConfigFieldMissingException":
            explained = ConfigError(_explain_missing(current))
            explained.__cause__ = error
            return explained
    return None


def _explain_missing(missing: BaseException) -> str:
    traces: dict[str, list[Any]] = getattr(missing, "traces", {}) or {}
    for field in getattr(missing, "fields", []) or []:
        for trace in traces.get(field, []):
            nested = getattr(trace, "traces", None)
            if isinstance(nested, dict) and nested:  # an embedded config (credentials) half set
                names = list(nested)
                where = _lookup_keys(nested[names[0]])
                if len(names) == 1:
                    return _missing_part_message(names[0], where)
                section = where[1].rpartition(".")[0]
                return (
                    f"no {section.replace('.', ' ')} configured (missing {', '.join(names)}): "
                    f"set {section.upper().replace('.', '__')} to a connection URL, or "
                    f"[{section}] in .dlt/secrets.toml"
                )
        where = _lookup_keys(traces.get(field, []))
        return f"{where[1]} is not set: set {where[0]} (or {where[1]} in .dlt/secrets.toml)"
    return f"incomplete configuration: {one_line(missing)}"


def _lookup_keys(traces: list[Any]) -> tuple[str, str]:
    """The environment name and the TOML key of a lookup, without the pipeline's prefix."""
    keys = [str(getattr(trace, "key", "")) for trace in traces]
    env = max((key for key in keys if key.startswith("DESTINATION__")), key=len, default="")
    env = env or (keys[0] if keys else "the missing value")
    return env, env.lower().replace("__", ".")


def _missing_part_message(name: str, where: tuple[str, str]) -> str:
    env, toml_key = where
    section, _, key = toml_key.rpartition(".")
    destination = section.split(".")[1] if section.count(".") >= 1 else section
    url = ""
    if name == "password" and destination == "postgres":
        url = "add it to the connection URL (postgresql://user:PASSWORD@host:port/database) or "
    return (
        f"the {destination} credentials have no {name}: {url}set {env} "
        f"(or {key} under [{section}] in .dlt/secrets.toml)"
    )


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
