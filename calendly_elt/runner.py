"""The extraction job behind the CLI: pipeline, destination, lock, checkpoints, status.

A run (``run_extraction``):

1. takes the pipeline's lock (two runs on one pipeline would interleave
   checkpoints); a lock whose process is gone is taken over, one of a live
   process on this host never (see :func:`pipeline_lock`);
2. syncs dlt state with the destination, loads packages a crashed run left
   behind and applies their pending soft deletes;
3. extracts ``scheduled_events`` + ``invitees`` window by window; after every
   ``checkpoint_events`` events the package is normalized and loaded, which
   commits the windows read so far (the checkpoint) with the data;
4. extracts the small dimension lists (users last: it adds every loaded host);
5. returns a :class:`RunSummary`.

``calendly-elt status`` reads :func:`read_status`: dlt state (last run,
windows covered, requests) and row counts from the destination - or, while a
live run holds the lock, the local state only, without opening the destination.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import httpx
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from calendly_elt.calendly import (
    DIMENSION_RESOURCES,
    EVENT_RESOURCES,
    WindowProgress,
    apply_pending_deletions,
    calendly_source,
)
from calendly_elt.calendly.config import CalendlySettings, build_client
from calendly_elt.calendly.helpers.sync_state import SyncState
from calendly_elt.calendly.settings import DEFAULT_DUCKDB_FILE, PIPELINE_NAME, RAW_DATASET
from calendly_elt.errors import CalendlyEltError, ConfigError, database_in_use, interrupt_in

logger = logging.getLogger(__name__)

DEFAULT_DUCKDB_PATH = Path(DEFAULT_DUCKDB_FILE)
# only for a lock written by another host, whose process cannot be checked from here
LOCK_STALE_AFTER_SECONDS = 24 * 3600
_SECRET_FIELDS = ("access_token", "client_id", "client_secret", "refresh_token")


class PipelineLockedError(CalendlyEltError):
    """Another run holds the pipeline's lock."""

    exit_code = 3


class ExtractionError(CalendlyEltError):
    """The extraction or the load failed for a reason that is not a Calendly refusal."""


# ---- pipeline and destination ------------------------------------------------


def make_pipeline(
    *,
    destination: str | None = None,
    duckdb_path: Path | str | None = None,
    pipelines_dir: Path | str | None = None,
    dataset_name: str = RAW_DATASET,
    read_only: bool = False,
) -> dlt.Pipeline:
    """Build the ``calendly`` dlt pipeline (dataset ``calendly``).

    Args:
        destination: A dlt destination name (``postgres``, ``bigquery``...),
            configured the dlt way; None or ``duckdb`` means a DuckDB file.
        duckdb_path: The DuckDB file; default ``calendly_warehouse.duckdb`` in the
            working directory (not ``calendly.duckdb``: DuckDB names the catalog
            after the file, and a catalog named like the ``calendly`` dataset
            makes two-part names ambiguous). Its pipeline state lives next to it
            in ``.<file>.dlt/``,
            so each database file has its own checkpoints.
        pipelines_dir: Where dlt keeps pipeline state (overrides the default).
        dataset_name: The raw dataset (schema); ``calendly`` unless isolating tests.
        read_only: Open a DuckDB file read-only (``status``: it never writes
            there); other destinations ignore it.

    Returns:
        The pipeline.

    Raises:
        ConfigError: The destination name is unknown or ``--duckdb`` was combined
            with another destination.
    """
    if destination in (None, "duckdb"):
        database = Path(duckdb_path or DEFAULT_DUCKDB_PATH).expanduser().resolve()
        if database.stem == RAW_DATASET:
            raise ConfigError(
                f"a DuckDB file named {database.name} cannot hold the dataset {RAW_DATASET!r}: "
                "DuckDB names the catalog after the file and rejects the ambiguous names; "
                f"use another file name, e.g. --duckdb {DEFAULT_DUCKDB_PATH}"
            )
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(
                f"cannot create the folder of --duckdb {database}: {error.strerror}"
            ) from None
        target: Any = dlt.destinations.duckdb(DuckDbCredentials(str(database), read_only=read_only))
        state_dir: Path | str | None = pipelines_dir or database.parent / f".{database.name}.dlt"
    elif duckdb_path is not None:
        raise ConfigError("--duckdb only applies to the duckdb destination")
    else:
        target, state_dir = destination, pipelines_dir
    options: dict[str, Any] = {"pipelines_dir": str(state_dir)} if state_dir else {}
    if logger.isEnabledFor(logging.DEBUG):
        options["progress"] = "log"
    try:
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME, destination=target, dataset_name=dataset_name, **options
        )
    except UnknownDestinationModule as error:
        raise ConfigError(
            f"unknown destination {destination!r}: not a dlt destination name (e.g. duckdb, "
            f"postgres, bigquery, snowflake) nor a named destination configured under "
            f"[destination.{destination}]"
        ) from error
    except Exception as error:  # dlt's other destination errors vary by version
        raise ConfigError(f"cannot use destination {destination!r}: {_one_line(error)}") from error


def describe_destination(pipeline: dlt.Pipeline) -> str:
    """A short, secret-free description of where the pipeline loads."""
    destination = pipeline.destination
    if destination is None:
        return "no destination"
    if destination.destination_type.endswith("duckdb"):
        state_dir = Path(pipeline.pipelines_dir)
        if state_dir.name.startswith(".") and state_dir.name.endswith(".dlt"):
            return f"duckdb {state_dir.parent / state_dir.name[1:-4]}"
        return "duckdb"
    return str(destination.destination_name)


# ---- lock ----------------------------------------------------------------------


def lock_path(pipeline: dlt.Pipeline) -> Path:
    """The lock file of a pipeline (next to its working folder)."""
    return Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"


@contextmanager
def pipeline_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock file while the block runs.

    The lock is a local file: it keeps two runs on one machine (or sharing
    the pipeline folder) apart, not two machines loading one warehouse. A
    lock written on this host is stale only when its process is gone (or the
    pid now names a newer process): a live run keeps it however long it
    takes. A lock written by another host, whose process cannot be checked,
    is stale after ``LOCK_STALE_AFTER_SECONDS``. A stale lock is taken over
    with a warning.

    Raises:
        PipelineLockedError: A live run holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _acquire(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class LockHolder:
    """The run that holds a pipeline lock.

    Attributes:
        pid: Its process id (on ``host``).
        host: The host name it runs on.
        since: When it took the lock (None if the lock file does not say).
    """

    pid: int | None
    host: str | None
    since: datetime | None

    @property
    def on_this_host(self) -> bool:
        """Whether the holder runs on this machine."""
        return self.host == socket.gethostname()


def live_lock_holder(path: Path) -> LockHolder | None:
    """The live run holding the lock at ``path``; None if there is no lock or it is stale."""
    if not path.exists():
        return None
    holder = _read_lock(path)
    if not holder or _is_stale(holder):
        return None
    pid, since = holder.get("pid"), holder.get("since")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=str(holder["host"]) if holder.get("host") else None,
        since=datetime.fromtimestamp(since, UTC) if isinstance(since, int | float) else None,
    )


def _acquire(path: Path) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    started = _process_start(os.getpid())
    if started is not None:
        owner["process_start"] = started
    for _ in range(2):
        try:
            _create_with(path, json.dumps(owner))
        except FileExistsError:
            holder = _read_lock(path)
            if not _is_stale(holder):
                raise PipelineLockedError(
                    f"another run (pid {holder.get('pid')} on {holder.get('host')}) holds "
                    f"the pipeline lock {path}; wait for it, or delete the file if that run "
                    "is gone"
                ) from None
            logger.warning("taking over a stale lock %s (pid %s)", path, holder.get("pid"))
            path.unlink(missing_ok=True)
            continue
        return
    raise PipelineLockedError(f"cannot take the pipeline lock {path}")


def _create_with(path: Path, text: str) -> None:
    """Create ``path`` holding ``text`` in one step; FileExistsError if it exists.

    The text is written to a private file first and hard-linked into place, so
    no other run ever reads the lock empty (and takes it for a stale one).
    """
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    draft.write_text(text)
    try:
        os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _is_stale(holder: dict[str, Any]) -> bool:
    """Whether a lock's run is gone (see :func:`pipeline_lock`)."""
    if holder.get("host") == socket.gethostname():
        return not _process_alive(holder.get("pid"), holder.get("process_start"))
    since = holder.get("since")
    return not isinstance(since, int | float) or time.time() - since > LOCK_STALE_AFTER_SECONDS


def _process_alive(pid: Any, process_start: Any = None) -> bool:
    """Whether ``pid`` runs; with ``process_start``, whether it is still that same process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if isinstance(process_start, str):
        current = _process_start(pid)
        # a pid reused by a newer process (after a crash, a reboot, a container restart)
        return current is None or current == process_start
    return True


def _process_start(pid: int) -> str | None:
    """An identity of the process ``pid``: boot id + start time in ticks (Linux; else None).

    Unlike the pid alone it changes when the pid is reused, and it is read
    from the kernel, so no clock is compared.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": field 3 onward
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


# ---- the run ---------------------------------------------------------------------


@dataclass
class RunSummary:
    """What one run did.

    Attributes:
        kind: ``backfill``, ``incremental``, ``full_refresh`` or ``since``.
        windows: Windows read by this invocation (a resumed run counts all).
        events: Events read.
        invitee_calls: Events whose invitees were fetched.
        requests: HTTP requests the client sent (retries and refreshes included).
        deleted: Rows newly queued as deleted.
        packages: Load packages loaded (checkpoints).
        seconds: Wall time.
        row_counts: Rows per raw table after the run (live, deleted).
    """

    kind: str = ""
    windows: int = 0
    events: int = 0
    invitee_calls: int = 0
    requests: int = 0
    deleted: int = 0
    packages: int = 0
    seconds: float = 0.0
    row_counts: dict[str, tuple[int, int]] = field(default_factory=dict)


def run_extraction(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    *,
    full_refresh: bool = False,
    since: datetime | None = None,
    now: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[WindowProgress], None] | None = None,
    client_options: dict[str, Any] | None = None,
    take_lock: bool = True,
    cancel: threading.Event | None = None,
) -> RunSummary:
    """Extract the organization and load it, checkpointing window by window.

    Args:
        pipeline: From :func:`make_pipeline`.
        settings: Resolved settings (``resolve_settings``).
        full_refresh: Re-read every window and every invitee.
        since: Re-read every window and invitee from this instant (backfill).
        now: The clock; default wall-clock UTC (the simulator's clock in the demo).
        transport: An httpx transport (the in-process simulator).
        progress: Called after every window.
        client_options: Extra ``CalendlyClient`` arguments (e.g. ``sleep``, ``clock``).
        take_lock: Hold the pipeline's lock during the run (and its row
            counts); False when the caller holds it already, e.g. to build
            the models under it too.
        cancel: Set it (from a signal handler) to stop: threads waiting for the
            rate limit or a retry wake at once and nothing more is requested.

    Returns:
        The run's summary.

    Raises:
        PipelineLockedError: Another run holds the lock.
        CalendlyEltError: The API refused, or the load failed.
        KeyboardInterrupt: Interrupted (also when dlt had wrapped the interrupt);
            the next run resumes from the last checkpoint.
    """
    started = time.monotonic()
    clock = now or (lambda: datetime.now(UTC))
    client = build_client(
        settings, transport=transport, now=clock, cancel=cancel, **(client_options or {})
    )
    # while the lock is held, `status` does not open the destination (see read_status)
    with pipeline_lock(lock_path(pipeline)) if take_lock else nullcontext():
        try:
            summary = _run_locked(pipeline, settings, client, clock, full_refresh, since, progress)
        finally:
            client.close()
        summary.requests = client.request_count
        summary.seconds = time.monotonic() - started
        summary.row_counts = row_counts(pipeline)
    return summary


def _run_locked(
    pipeline: dlt.Pipeline,
    settings: CalendlySettings,
    client: Any,
    clock: Callable[[], datetime],
    full_refresh: bool,
    since: datetime | None,
    progress: Callable[[WindowProgress], None] | None,
) -> RunSummary:
    summary = RunSummary()
    summary.packages += finish_pending(pipeline)
    first = True
    while first or _source_state(pipeline).run is not None:
        source = _source(
            settings, client, clock, progress, full_refresh and first, since if first else None
        )
        cursor = _extract(pipeline, source.with_resources(*EVENT_RESOURCES), summary)
        summary.kind = cursor.get("kind", summary.kind)
        first = False
    _note_run(pipeline, summary)
    dims = _source(settings, client, clock, None, full_refresh, since)
    # the deletions queued by the last event extraction are still in state: count them once
    dimensions = RunSummary()
    _extract(pipeline, dims.with_resources(*DIMENSION_RESOURCES), dimensions)
    summary.packages += dimensions.packages
    _note_requests(pipeline, client.request_count)
    return summary


def _source(
    settings: CalendlySettings,
    client: Any,
    clock: Callable[[], datetime],
    progress: Callable[[WindowProgress], None] | None,
    full_refresh: bool,
    since: datetime | None,
) -> Any:
    options = {
        item.name: getattr(settings, item.name)
        for item in fields(settings)
        if item.name not in (*_SECRET_FIELDS, "checkpoint_events")
    }
    options["token_store_path"] = str(settings.token_store_path)
    options["start_date"] = settings.start_date.isoformat() if settings.start_date else None
    return calendly_source(
        **options,
        full_refresh=full_refresh,
        since=since,
        checkpoint_events=settings.checkpoint_events,
        now=clock,
        client=client,
        progress=progress,
    )


def _extract(pipeline: dlt.Pipeline, source: Any, summary: RunSummary) -> dict[str, Any]:
    """Extract one source selection, load it and apply its soft deletes."""
    with _clear_errors("extracting from Calendly"):
        pipeline.extract(source)
    run = _source_state(pipeline).run
    summary.packages += _normalize_and_load(pipeline)
    summary.deleted += apply_pending_deletions(pipeline)
    return run.to_state() if run else {}


def _normalize_and_load(pipeline: dlt.Pipeline) -> int:
    with _clear_errors(f"loading into {describe_destination(pipeline)}"):
        pipeline.normalize()
        info: LoadInfo | None = pipeline.load()
    return len(info.loads_ids) if info else 0


def finish_pending(pipeline: dlt.Pipeline) -> int:
    """Restore state from the destination if needed, load what a crashed run left.

    Returns:
        The number of load packages loaded.
    """
    with _clear_errors(f"reading state from {describe_destination(pipeline)}"):
        pipeline.sync_destination()
    loaded = 0
    if pipeline.has_pending_data:
        logger.warning("loading the packages a previous run left behind")
        loaded = _normalize_and_load(pipeline)
    apply_pending_deletions(pipeline)
    return loaded


def _note_run(pipeline: dlt.Pipeline, summary: RunSummary) -> None:
    history = _source_state(pipeline).history
    if history:
        last = history[-1]
        summary.windows, summary.events = last["windows"], last["events"]
        summary.invitee_calls = last["invitee_calls"]
        summary.kind = last["kind"]


def _note_requests(pipeline: dlt.Pipeline, requests: int) -> None:
    """Count the dimensions' requests too in the run's history entry.

    The entry is written when the events are done, before the dimensions are
    read. This update is saved locally only: it reaches the destination with
    the next run's first load (a package for it alone would cost a load).
    """
    with pipeline.managed_state() as state:
        history = state.get("sources", {}).get("calendly", {}).get("history")
        if history:
            history[-1]["requests"] = requests


def _source_state(pipeline: dlt.Pipeline) -> SyncState:
    return SyncState(pipeline.state.get("sources", {}).get("calendly", {}))


@contextmanager
def _clear_errors(doing: str) -> Iterator[None]:
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
        inner = database_in_use(error) or _calendly_error_in(error)
        if inner is not None:
            raise inner from error
        raise ExtractionError(f"{doing} failed: {_one_line(error)}") from error


def _calendly_error_in(error: BaseException) -> CalendlyEltError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, CalendlyEltError):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def _one_line(error: BaseException) -> str:
    root: BaseException = error
    while root.__cause__ is not None:
        root = root.__cause__
    text = str(root).strip().splitlines()
    return f"{type(root).__name__}: {text[0] if text else ''}"


# ---- status ----------------------------------------------------------------------


def row_counts(pipeline: dlt.Pipeline) -> dict[str, tuple[int, int]]:
    """Rows per loaded raw table: ``{table: (live, deleted)}``."""
    if not pipeline.default_schema_name:
        return {}
    tables = sorted(
        table["name"] for table in pipeline.default_schema.data_tables() if table.get("columns")
    )
    counts: dict[str, tuple[int, int]] = {}
    try:
        with pipeline.sql_client() as client:
            for table in tables:
                counts[table] = _count(client, pipeline, table)
    except Exception as error:
        in_use = database_in_use(error)
        if in_use is not None:
            raise in_use from error
        logger.info("cannot count rows: %s", error)
    return counts


def _count(client: Any, pipeline: dlt.Pipeline, table: str) -> tuple[int, int]:
    qualified = client.make_qualified_table_name(table)
    has_flag = "is_deleted" in pipeline.default_schema.tables[table]["columns"]
    deleted = "count(case when is_deleted then 1 end)" if has_flag else "0"
    try:
        with client.execute_query(f"select count(*), {deleted} from {qualified}") as cursor:
            total, gone = cursor.fetchone()
    except Exception:  # declared but never loaded
        return (0, 0)
    return (int(total) - int(gone), int(gone))


@dataclass
class StatusReport:
    """What ``calendly-elt status`` shows.

    While a run holds the lock (``live_run``), everything comes from the local
    pipeline state: the destination is not opened (a second process on a
    DuckDB file would make the run fail), so ``row_counts`` is empty and
    ``pending_packages`` is None.
    """

    destination: str
    last_success_at: datetime | None
    backfill_start: datetime | None
    covered: list[tuple[datetime, datetime]]
    run_in_progress: dict[str, Any] | None
    last_run: dict[str, Any] | None
    row_counts: dict[str, tuple[int, int]]
    pending_packages: int | None
    live_run: LockHolder | None = None


def read_status(pipeline: dlt.Pipeline) -> StatusReport:
    """Collect the pipeline's status from its state and destination (no API calls).

    If a live run holds the pipeline's lock, only the local state is read (the
    checkpoint that run last saved): no ``sync_destination``, no row counts.
    Otherwise the destination is read, never written (open a DuckDB file with
    ``make_pipeline(read_only=True)``).

    Raises:
        DatabaseInUseError: Another process has the DuckDB file open.
        ExtractionError: The destination could not be read.
    """
    holder = live_lock_holder(lock_path(pipeline))
    if holder is None:
        with _clear_errors(f"reading state from {describe_destination(pipeline)}"):
            pipeline.sync_destination()
        counts = row_counts(pipeline)
        pending: int | None = len(pipeline.list_extracted_load_packages()) + len(
            pipeline.list_normalized_load_packages()
        )
    else:
        counts, pending = {}, None
    state = _source_state(pipeline)
    run = state.run
    history = state.history
    return StatusReport(
        destination=describe_destination(pipeline),
        last_success_at=state.last_success_at,
        backfill_start=state.backfill_start,
        covered=state.covered,
        run_in_progress=run.to_state() if run else None,
        last_run=history[-1] if history else None,
        row_counts=counts,
        pending_packages=pending,
        live_run=holder,
    )
