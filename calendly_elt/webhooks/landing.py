"""The landing store: webhook deliveries appended durably to JSON Lines files.

One delivery per line: ``{"id", "received_at", "event", "body"}`` where
``body`` is the raw request body as text (exactly the bytes that were signed,
decoded as UTF-8) and ``id`` the SHA-256 of those bytes, so a redelivery of the
same body has the same id. Files are ``deliveries-<YYYYMMDD>-<seq>.jsonl`` in
the landing folder; ``seq`` grows across files, which gives their order. A
new file starts each UTC day, when a file passes ``max_file_bytes``, and at
every start of a writer, so a writer never appends after a line a crashed
process left torn.

``LandingStore.append`` writes the line with one ``write`` on an ``O_APPEND``
descriptor, then ``fsync``: when it returns, the delivery survives a crash, and
only then does the receiver answer 2xx. It is idempotent: an id already
landed (its index is rebuilt from the files at start) is not appended again.

``iter_deliveries(folder)`` is the reading API of the merge: every landed
delivery, in landing order, each id once; a torn or unreadable line (the tail
of a file a crash cut) is skipped with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calendly_elt.webhooks.errors import LandingError

logger = logging.getLogger(__name__)

DEFAULT_LANDING_DIR = Path("webhook_landing")
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
_FILE_NAME = re.compile(r"^deliveries-(?P<day>\d{8})-(?P<seq>\d{6,})\.jsonl$")


def delivery_id(raw_body: bytes) -> str:
    """The id of a delivery: the hex SHA-256 of its raw body."""
    return hashlib.sha256(raw_body).hexdigest()


@dataclass(frozen=True)
class LandedDelivery:
    """One delivery as read back from the landing store.

    Attributes:
        id: SHA-256 of the raw body.
        received_at: When the receiver landed it (UTC).
        event: The event name (``invitee.created``...; unknown names included).
        created_at: The delivery's own ``created_at`` (None when absent or invalid).
        payload: The delivery's ``payload`` object (the invitee, the event type...).
        body: The whole delivery object (``event``, ``created_at``, ``created_by``, ``payload``).
        raw_body: The body exactly as received.
    """

    id: str
    received_at: datetime
    event: str
    created_at: datetime | None
    payload: dict[str, Any]
    body: dict[str, Any]
    raw_body: str


def landing_files(directory: Path) -> list[Path]:
    """The landing files of ``directory`` in landing order (none if it does not exist)."""
    if not Path(directory).is_dir():
        return []
    found = [(int(m["seq"]), path) for path in Path(directory).iterdir() if (m := _match(path))]
    return [path for _, path in sorted(found)]


def _match(path: Path) -> re.Match[str] | None:
    return _FILE_NAME.match(path.name)


def iter_deliveries(directory: Path) -> Iterator[LandedDelivery]:
    """Every landed delivery of ``directory``, in landing order, each id once.

    Args:
        directory: The landing folder (``webhooks serve --landing-dir``).

    Yields:
        The deliveries; unreadable lines are skipped with a warning.
    """
    seen: set[str] = set()
    for path in landing_files(directory):
        for record in _records(path):
            delivery = _delivery(record)
            if delivery is not None and delivery.id not in seen:
                seen.add(delivery.id)
                yield delivery


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of one file; a torn or invalid line is skipped with a warning."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            record = _parse_line(line)
            if record is None:
                torn = "torn " if not line.endswith(b"\n") else ""
                logger.warning(
                    "skipping %sline %d of %s: not a landed delivery", torn, number, path
                )
                continue
            yield record


def _parse_line(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n"):
        return None  # a write cut short: never trust it, even if it parses
    try:
        record = json.loads(line)
    except ValueError:
        return None
    fields_ok = isinstance(record, dict) and all(
        isinstance(record.get(key), str) for key in ("id", "received_at", "body")
    )
    return record if fields_ok else None


def _delivery(record: dict[str, Any]) -> LandedDelivery | None:
    try:
        body = json.loads(record["body"])
        received_at = _parse_time(record["received_at"])
    except ValueError:
        logger.warning("skipping landed delivery %s: unreadable body", record["id"])
        return None
    if not isinstance(body, dict) or received_at is None:
        return None
    payload = body.get("payload")
    created = body.get("created_at")
    return LandedDelivery(
        id=record["id"],
        received_at=received_at,
        event=str(body.get("event") or record.get("event") or ""),
        created_at=_parse_time(created) if isinstance(created, str) else None,
        payload=payload if isinstance(payload, dict) else {},
        body=body,
        raw_body=record["body"],
    )


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class LandingStore:
    """The durable, idempotent writer of landed deliveries (thread-safe).

    Args:
        directory: The landing folder (created 0700 if missing).
        max_file_bytes: A file that reached this size is closed; the next line starts a new one.
        clock: The receipt clock (UTC); a new file starts when its day changes.
    """

    def __init__(
        self,
        directory: Path = DEFAULT_LANDING_DIR,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.directory = Path(directory)
        self.max_file_bytes = max_file_bytes
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise LandingError(f"cannot create the landing folder {directory}: {error}") from None
        files = landing_files(self.directory)
        self._ids = {record["id"] for path in files for record in _records(path)}
        self._next_seq = 1 + max((int(_seq(path)) for path in files), default=0)
        self._descriptor: int | None = None
        self._day = ""
        self._size = 0

    def __contains__(self, delivery: object) -> bool:
        with self._lock:
            return delivery in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def append(self, raw_body: bytes, event: str) -> tuple[str, bool]:
        """Land one delivery durably, unless its id is already landed.

        Args:
            raw_body: The exact request body (UTF-8 JSON).
            event: The delivery's event name.

        Returns:
            ``(id, appended)``; ``appended`` is False for a redelivery.

        Raises:
            LandingError: The line could not be written and synced (nothing acknowledged).
        """
        identifier = delivery_id(raw_body)
        with self._lock:
            if identifier in self._ids:
                return identifier, False
            now = self._clock().astimezone(UTC)
            record = {
                "id": identifier,
                "received_at": now.isoformat(timespec="microseconds"),
                "event": event,
                "body": raw_body.decode("utf-8"),
            }
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
            self._write(line, now)
            self._ids.add(identifier)
            return identifier, True

    def _write(self, line: bytes, now: datetime) -> None:
        try:
            descriptor = self._file_for(now)
            written = 0
            while written < len(line):
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        except OSError as error:
            self._close_file()  # a partial line stays at that file's end; start afresh
            raise LandingError(f"cannot append to the landing store: {error.strerror}") from None
        self._size += len(line)

    def _file_for(self, now: datetime) -> int:
        day = now.strftime("%Y%m%d")
        if self._descriptor is not None and (day != self._day or self._size >= self.max_file_bytes):
            self._close_file()
        if self._descriptor is None:
            path = self.directory / f"deliveries-{day}-{self._next_seq:06d}.jsonl"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
            self._descriptor = os.open(path, flags, 0o600)
            self._next_seq += 1
            self._day, self._size = day, 0
            _sync_directory(self.directory)
        return self._descriptor

    def _close_file(self) -> None:
        if self._descriptor is not None:
            try:
                os.close(self._descriptor)
            except OSError:
                logger.warning("closing a landing file failed", exc_info=True)
            self._descriptor = None

    def close(self) -> None:
        """Close the current file (appending later opens a new one)."""
        with self._lock:
            self._close_file()


def _seq(path: Path) -> str:
    found = _match(path)
    return found["seq"] if found else "0"


def _sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
