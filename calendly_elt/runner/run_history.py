"""Run history: one row per run, failed ones included, in the warehouse.

Every ``run``, ``backfill``, ``demo`` and ``webhooks load`` writes one row to
``run_history`` in the raw dataset (``calendly.run_history``), whatever the
outcome: ``succeeded``, ``failed``, ``interrupted`` or ``quarantined`` (loaded,
but some records broke the raw contract). The row is written by a connection
of its own after the run has let go of the warehouse's lock (taken again for
the write), with plain SQL rather than a dlt load: a run that failed in dlt's
load (or before any load) still gets its row. If the write cannot be made
(another run holds the warehouse, the DuckDB file is open in another
process, the database is down), the run's own error and exit code stand: a
warning says so, or an INFO line when the run's error already said why.

Columns (:data:`COLUMNS`): ``run_id, command, started_at, ended_at, outcome,
exit_code, error, windows, requests, retries, rate_limited, rows, models_seconds``.
``error`` is the one line the command printed, redacted; ``rows`` is JSON:
live rows per raw table after the run (``{"invitees": 120, ...}``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.calendly import WindowProgress
from calendly_elt.calendly.helpers.client import RequestCounters
from calendly_elt.calendly.helpers.redaction import redact
from calendly_elt.errors import (
    CalendlyEltError,
    RunInterruptedError,
    database_in_use,
    interrupt_in,
    missing_configuration,
    one_line,
)
from calendly_elt.runner.failures import RecordsQuarantinedError
from calendly_elt.runner.job import JobResult
from calendly_elt.runner.lock import PipelineLockedError
from calendly_elt.runner.warehouse_lock import warehouse_lock

logger = logging.getLogger(__name__)

TABLE = "run_history"
OUTCOMES = ("succeeded", "failed", "interrupted", "quarantined")
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "varchar(64) not null"),
    ("command", "varchar(32) not null"),
    ("started_at", "timestamp with time zone not null"),
    ("ended_at", "timestamp with time zone not null"),
    ("outcome", "varchar(16) not null"),
    ("exit_code", "integer not null"),
    ("error", "text"),
    ("windows", "integer"),
    ("requests", "bigint"),
    ("retries", "bigint"),
    ("rate_limited", "bigint"),
    ("rows", "text"),
    ("models_seconds", "double precision"),
)


@dataclass
class RunRecord:
    """One row of ``run_history``."""

    run_id: str
    command: str
    started_at: datetime
    ended_at: datetime
    outcome: str
    exit_code: int
    error: str | None = None
    windows: int | None = None
    requests: int | None = None
    retries: int | None = None
    rate_limited: int | None = None
    rows: dict[str, int] | None = None
    models_seconds: float | None = None

    def values(self) -> tuple[Any, ...]:
        """The row's values in :data:`COLUMNS` order (``rows`` as JSON text)."""
        rows = json.dumps(self.rows, sort_keys=True) if self.rows is not None else None
        return (
            self.run_id, self.command, self.started_at, self.ended_at, self.outcome,
            self.exit_code, self.error, self.windows, self.requests, self.retries,
            self.rate_limited, rows, self.models_seconds,
        )  # fmt: skip


@dataclass
class RunRecorder:
    """Collects what a run did while it runs, so that a failure can be recorded too.

    Pass :meth:`extraction_options` to ``run_job`` (the client counts into
    :attr:`counters`, the progress callback notes the windows) and set
    :attr:`result` when the job returns.
    """

    command: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    counters: RequestCounters = field(default_factory=RequestCounters)
    windows: int = 0
    result: JobResult | None = None

    def progress(
        self, inner: Callable[[WindowProgress], None] | None = None
    ) -> Callable[[WindowProgress], None]:
        """A progress callback noting the windows done, then calling ``inner``."""

        def note(update: WindowProgress) -> None:
            self.windows = update.windows_done
            if inner is not None:
                inner(update)

        return note

    def extraction_options(
        self, progress: Callable[[WindowProgress], None] | None = None
    ) -> dict[str, Any]:
        """``run_job`` keyword arguments that let this recorder watch the run."""
        return {"client_options": {"counters": self.counters}, "progress": self.progress(progress)}

    def record(self, error: BaseException | None = None) -> RunRecord:
        """The row for this run, ended now, after ``error`` (None: it succeeded)."""
        outcome, exit_code, line = describe_outcome(error)
        summary = self.result.extraction if self.result else None
        models = self.result.models if self.result else None
        return RunRecord(
            run_id=self.run_id,
            command=self.command,
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
            outcome=outcome,
            exit_code=exit_code,
            error=line,
            windows=summary.windows if summary and summary.windows else self.windows,
            requests=summary.requests if summary else self.counters.sent,
            retries=self.counters.retries,
            rate_limited=self.counters.rate_limited,
            rows={table: live for table, (live, _) in summary.row_counts.items()}
            if summary
            else None,
            models_seconds=round(models.seconds, 3) if models else None,
        )


def describe_outcome(error: BaseException | None) -> tuple[str, int, str | None]:
    """``(outcome, exit code, one redacted error line)``, as the CLI ends after ``error``."""
    if error is None:
        return "succeeded", 0, None
    if isinstance(error, RunInterruptedError | KeyboardInterrupt) or interrupt_in(error):
        return "interrupted", 130, redact(str(error) or "interrupted")
    shown: BaseException = database_in_use(error) or missing_configuration(error) or error
    if isinstance(shown, RecordsQuarantinedError):
        return "quarantined", shown.exit_code, redact(str(shown))
    if isinstance(shown, CalendlyEltError):
        return "failed", shown.exit_code, redact(_first_line(str(shown)))
    return "failed", 1, redact(one_line(shown))


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


@contextmanager
def recorded_run(pipeline: dlt.Pipeline, command: str) -> Iterator[RunRecorder]:
    """Record the run inside the ``with`` block in ``run_history``, however it ends.

    The exception (if any) is re-raised unchanged after the row is written.
    """
    recorder = RunRecorder(command)
    try:
        yield recorder
    except BaseException as error:
        _record(pipeline, recorder, error)
        raise
    _record(pipeline, recorder, None)


def _record(pipeline: dlt.Pipeline, recorder: RunRecorder, error: BaseException | None) -> None:
    """Write the run's row; recording never changes how the run ends."""
    try:
        record = recorder.record(error)
    except Exception as failure:  # a bug here must not fail a run that succeeded
        logger.warning("run history not written: %s", redact(one_line(failure)))
        return
    # a failed run's write fails for the same reason, mostly (no credentials, the file in
    # use, another run): its one error line says why; a run that succeeded gets a warning
    write_run(pipeline, record, warn=error is None)


def write_run(pipeline: dlt.Pipeline, record: RunRecord, *, warn: bool = True) -> bool:
    """Append ``record`` to ``run_history`` (created if missing); False if it could not.

    A write that fails is logged: a warning if ``warn`` (and another run holding
    the warehouse is not the reason), else at INFO (``-v`` shows it).
    """
    columns = ", ".join(name for name, _ in COLUMNS)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    try:
        # under the warehouse's lock: never open a DuckDB file another run is loading
        with warehouse_lock(pipeline), pipeline.sql_client() as client:
            if not client.has_dataset():
                client.create_dataset()
            qualified = client.make_qualified_table_name(TABLE)
            client.execute_sql(_create_sql(qualified))
            client.execute_sql(
                f"insert into {qualified} ({columns}) values ({placeholders})", *record.values()
            )
    except Exception as error:
        expected = isinstance(error, PipelineLockedError) or database_in_use(error) is not None
        logger.log(
            logging.WARNING if warn and not expected else logging.INFO,
            "run history not written: %s",
            redact(one_line(error)),
        )
        return False
    return True


def _create_sql(qualified: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    return f"create table if not exists {qualified} ({columns})"


def read_runs(
    pipeline: dlt.Pipeline, limit: int = 5, *, outcome: str | None = None
) -> list[RunRecord]:
    """The last ``limit`` runs (of one ``outcome``), newest first, on a connection of its own.

    Empty if no run was recorded yet or the table cannot be read.

    Raises:
        DatabaseInUseError: Another process has the DuckDB file open.
    """
    try:
        with pipeline.sql_client() as client:
            return query_runs(client, limit, outcome=outcome)
    except Exception as error:
        in_use = database_in_use(error)
        if in_use is not None:
            raise in_use from error
        logger.info("no run history: %s", one_line(error))
        return []


def query_runs(client: Any, limit: int = 5, *, outcome: str | None = None) -> list[RunRecord]:
    """:func:`read_runs` with an open sql client of the pipeline (empty: no table yet)."""
    names = [name for name, _ in COLUMNS]
    where = f"where outcome = '{outcome}' " if outcome in OUTCOMES else ""
    qualified = client.make_qualified_table_name(TABLE)
    try:
        rows = client.execute_sql(
            f"select {', '.join(names)} from {qualified} {where}"
            f"order by started_at desc limit {int(limit)}"
        )
    except Exception as error:
        if database_in_use(error) is not None:
            raise
        logger.info("no run history: %s", one_line(error))
        return []
    return [_record_of(dict(zip(names, row, strict=True))) for row in rows or []]


def _record_of(row: dict[str, Any]) -> RunRecord:
    row["rows"] = json.loads(row["rows"]) if row["rows"] else None
    for moment in ("started_at", "ended_at"):
        value = row[moment]
        if isinstance(value, datetime) and value.tzinfo is None:
            row[moment] = value.replace(tzinfo=UTC)
        elif isinstance(value, datetime):
            row[moment] = value.astimezone(UTC)
    return RunRecord(**row)


def last_success(pipeline: dlt.Pipeline) -> RunRecord | None:
    """The newest succeeded run in ``run_history`` (None: none recorded)."""
    runs = read_runs(pipeline, 1, outcome="succeeded")
    return runs[0] if runs else None


def describe_run(run: RunRecord) -> str:
    """One line: ``2026-01-15 12:00:00 UTC run succeeded in 12.3s, 120 requests, 340 rows``."""
    seconds = (run.ended_at - run.started_at).total_seconds()
    parts = [
        f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC {run.command} {run.outcome} in {seconds:.1f}s",
        f"{run.requests or 0} requests",
    ]
    if run.windows:
        parts.append(f"{run.windows} windows")
    if run.retries or run.rate_limited:
        parts.append(f"{run.retries or 0} retries, {run.rate_limited or 0} 429s")
    if run.rows is not None:
        parts.append(f"{sum(run.rows.values())} rows")
    if run.models_seconds is not None:
        parts.append(f"models {run.models_seconds:.1f}s")
    text = ", ".join(parts)
    return f"{text}: {run.error}" if run.error else text
