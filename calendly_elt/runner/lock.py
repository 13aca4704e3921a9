"""The lock file: one run at a time per folder.

Two runs on one pipeline would interleave checkpoints, and a second process
on a DuckDB file makes the first fail. A lock is a file
(``<folder>/calendly.lock``): a lock whose process is gone is taken over, one
of a live process on this host never (see :func:`pipeline_lock`). Which files
a job takes (its state folder's, its DuckDB file's) and the PostgreSQL
advisory lock are in ``warehouse_lock.py``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt

from calendly_elt.errors import CalendlyEltError

logger = logging.getLogger(__name__)

# only for a lock written by another host, whose process cannot be checked from here
LOCK_STALE_AFTER_SECONDS = 24 * 3600


class PipelineLockedError(CalendlyEltError):
    """Another run holds the pipeline's lock."""

    exit_code = 3


def lock_path(pipeline: dlt.Pipeline) -> Path:
    """The lock file of a pipeline's state folder (see ``warehouse_lock.lock_files`` for all)."""
    return Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"


@contextmanager
def pipeline_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock file while the block runs.

    The lock is a local file: it keeps two runs on one machine (or sharing
    the folder) apart, not two machines loading one warehouse (that is the
    PostgreSQL advisory lock of ``warehouse_lock.py``). A lock written on
    this host is stale only when its process is gone (or the pid now names a
    newer process): a live run keeps it however long it takes. A lock
    written by another host, whose process cannot be checked, is stale after
    ``LOCK_STALE_AFTER_SECONDS``. A stale lock is taken over with a warning.

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
