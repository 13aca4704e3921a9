"""Failures of a pipeline step, as one clear line.

dlt wraps whatever fails inside ``extract``, ``normalize``, ``load`` or
``sync_destination`` in its own ``PipelineStepFailed``; :func:`clear_errors`
turns that back into the ``CalendlyEltError`` inside (a Calendly refusal, a
DuckDB file in use, a destination's missing credentials field named), an
interrupt, or one :class:`ExtractionError` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from calendly_elt.duckdb_memory import RAISE_THE_LIMIT, is_out_of_memory
from calendly_elt.errors import (
    CalendlyEltError,
    database_in_use,
    first_in_chain,
    interrupt_in,
    missing_configuration,
    one_line,
)


class ExtractionError(CalendlyEltError):
    """The extraction or the load failed for a reason that is not a Calendly refusal."""


class RecordsQuarantinedError(CalendlyEltError):
    """The run loaded everything else, but some records broke the raw contract (exit 4)."""

    exit_code = 4


@contextmanager
def clear_errors(doing: str) -> Iterator[None]:
    """Turn dlt's wrapped step failures into the CalendlyEltError inside, or one line.

    An interrupt dlt wrapped is raised as the ``KeyboardInterrupt`` it is, not a failure.
    """
    try:
        yield
    except CalendlyEltError:
        raise
    except Exception as error:
        if interrupt_in(error) is not None:
            raise KeyboardInterrupt from error
        inner = (
            database_in_use(error)
            or missing_configuration(error)
            or first_in_chain(error, CalendlyEltError)
        )
        if inner is not None:
            raise inner from error
        advice = f"; {RAISE_THE_LIMIT}" if is_out_of_memory(error) else ""
        raise ExtractionError(f"{doing} failed: {one_line(error)}{advice}") from error
