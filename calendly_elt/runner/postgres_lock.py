"""The warehouse lock of a PostgreSQL destination: a session-level advisory lock.

A lock file keeps apart the runs that share a folder; runs from two hosts (or
two state folders: two workers of an orchestrator) loading one PostgreSQL
database see different files. So a job also takes
``pg_try_advisory_lock(key)`` on a connection of its own, opened from the
pipeline's dlt credentials and held (idle, autocommit) until the job ends:
the database itself says whether another run is loading the dataset. The key
is derived from the raw dataset's name (:func:`advisory_key`), so two
datasets in one database do not exclude each other. A crashed run's lock
goes with its connection: PostgreSQL releases session locks when the session
ends, so there is nothing stale to take over.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC
from typing import Any

import dlt

from calendly_elt.errors import CalendlyEltError, one_line
from calendly_elt.models.errors import WarehouseUnavailableError
from calendly_elt.runner.lock import LockHolder, PipelineLockedError

logger = logging.getLogger(__name__)

APPLICATION_PREFIX = "calendly-elt lock"
_OUR_SESSION = re.compile(rf"{APPLICATION_PREFIX} pid (?P<pid>\d+) on (?P<host>.+)")
# keep an idle lock connection alive through NAT and firewalls; a dead one is noticed
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
_STILL_HELD = """
select count(*) > 0 from pg_locks
where pid = pg_backend_pid() and locktype = 'advisory' and granted
  and classid = %s and objid = %s and objsubid = 1
"""
# the lock connections this process holds, by key (a job holds one; tests may hold more)
_HELD: dict[int, Any] = {}
_HOLDER_QUERY = """
select activity.application_name, activity.client_addr, activity.backend_start
from pg_locks as locks
inner join pg_stat_activity as activity on activity.pid = locks.pid
where locks.locktype = 'advisory' and locks.granted
  and locks.database = (select oid from pg_database where datname = current_database())
  and locks.classid = %s and locks.objid = %s and locks.objsubid = 1
"""


class WarehouseLockLostError(CalendlyEltError):
    """The session holding the PostgreSQL advisory lock ended while the job ran."""


def is_postgres(pipeline: dlt.Pipeline) -> bool:
    """Whether the pipeline loads into PostgreSQL."""
    destination = pipeline.destination
    return destination is not None and destination.destination_type.endswith(".postgres")


def advisory_key(dataset_name: str) -> int:
    """The advisory lock key of a dataset: a stable signed 64-bit hash of its name."""
    digest = hashlib.blake2b(f"calendly-elt:{dataset_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def postgres_lock(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold the dataset's advisory lock in the pipeline's PostgreSQL database.

    Raises:
        PipelineLockedError: Another session (another run, on any host) holds it.
        WarehouseUnavailableError: The database cannot be reached.
    """
    key = advisory_key(pipeline.dataset_name)
    connection = _connect(pipeline)
    try:
        if not _fetch_one(connection, "select pg_try_advisory_lock(%s)", (key,))[0]:
            raise PipelineLockedError(
                f"another run ({_describe_holder(connection, key)}) is loading the dataset "
                f"{pipeline.dataset_name!r} in this PostgreSQL database; wait for it to end"
            )
        logger.info("holding the PostgreSQL advisory lock %d", key)
        _HELD[key] = connection
        try:
            yield
        finally:
            _HELD.pop(key, None)
            _release(connection, key)
    finally:
        connection.close()


def confirm_postgres_lock(pipeline: dlt.Pipeline) -> None:
    """Check that this process still holds the dataset's advisory lock (if it took it).

    A session lock goes with its connection: if that dropped (a network cut,
    a restarted server, an administrator's ``pg_terminate_backend``), another
    run may have started. Called before each load, so nothing is loaded
    without the lock.

    Raises:
        WarehouseLockLostError: The lock's session is gone or no longer holds it.
    """
    key = advisory_key(pipeline.dataset_name)
    connection = _HELD.get(key)
    if connection is None:
        return
    try:
        held = _fetch_one(connection, _STILL_HELD, ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF))
    except Exception as error:
        raise WarehouseLockLostError(
            f"lost the PostgreSQL warehouse lock of {pipeline.dataset_name!r} (its connection "
            f"ended: {one_line(error)}); stopped before loading: rerun to resume from the "
            "last checkpoint"
        ) from error
    if not held[0]:
        raise WarehouseLockLostError(
            f"the PostgreSQL warehouse lock of {pipeline.dataset_name!r} is no longer held; "
            "stopped before loading: rerun to resume from the last checkpoint"
        )


def postgres_lock_holder(pipeline: dlt.Pipeline) -> LockHolder | None:
    """The run holding the dataset's advisory lock (None: nobody), without taking it.

    ``pid`` and ``host`` are known when the holder is a calendly-elt run (its
    connection's ``application_name``); ``since`` is when its session began.
    """
    connection = _connect(pipeline)
    try:
        rows = _holders(connection, advisory_key(pipeline.dataset_name))
    finally:
        connection.close()
    if not rows:
        return None
    name, address, started = rows[0]
    started = started.astimezone(UTC) if started else None
    match = _OUR_SESSION.fullmatch(str(name or ""))
    if match is None:
        return LockHolder(pid=None, host=str(address) if address else None, since=started)
    return LockHolder(pid=int(match["pid"]), host=match["host"], since=started)


def _connect(pipeline: dlt.Pipeline) -> Any:
    """A dedicated autocommit connection, named after this process (see ``_describe``)."""
    import psycopg2

    try:
        credentials: Any = pipeline.destination_client().config.credentials
        connection = psycopg2.connect(
            credentials.to_native_representation(),
            application_name=f"{APPLICATION_PREFIX} pid {os.getpid()} on {socket.gethostname()}",
            **_KEEPALIVES,
        )
    except Exception as error:  # as the models runner says it (models/runner.py)
        raise WarehouseUnavailableError(
            f"cannot connect to the postgres warehouse: {one_line(error)}"
        ) from error
    connection.autocommit = True
    with suppress(psycopg2.Error):  # PostgreSQL 14+: never end the idle session holding it
        _fetch_one(connection, "set idle_session_timeout = 0", None, expect_row=False)
    return connection


def _fetch_one(connection: Any, sql: str, args: Any, *, expect_row: bool = True) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone() if expect_row else None


def _release(connection: Any, key: int) -> None:
    try:
        _fetch_one(connection, "select pg_advisory_unlock(%s)", (key,))
    except Exception as error:  # the session ends right after: the lock goes with it
        logger.info("could not release the advisory lock %d: %s", key, error)


def _holders(connection: Any, key: int) -> list[tuple[Any, ...]]:
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with connection.cursor() as cursor:
        cursor.execute(_HOLDER_QUERY, (high, low))
        return [tuple(row) for row in cursor.fetchall()]


def _describe_holder(connection: Any, key: int) -> str:
    try:
        rows = _holders(connection, key)
    except Exception:  # pg_stat_activity hidden from this role: say what we know
        rows = []
    return _describe(rows[0]) if rows else "another session"


def _describe(row: tuple[Any, ...]) -> str:
    name, address, started = row
    name = str(name or "")
    who = name[len(APPLICATION_PREFIX) + 1 :] if name.startswith(APPLICATION_PREFIX) else ""
    who = who or f"a session from {address or 'a local socket'}"
    return f"{who}, since {started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if started else who
