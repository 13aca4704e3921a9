"""Known events packed into bytes, and an index of them by start time.

A :class:`KnownEvent` as Python objects (a slotted instance, three datetimes,
a fingerprint tuple with a fourth) costs ~450 bytes; packed it is one 44-byte
``bytes`` (77 with its header): start, end, ``updated_at`` and
``invitees_read_at`` as microseconds since the epoch, the invitee counters,
and the status as an index into a small table. An event whose values do not
fit that shape (a naive timestamp, a fingerprint of another form) is not
packed; the caller keeps it as it is.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calendly_elt.calendly.helpers.compact_keys import EventKey
from calendly_elt.calendly.helpers.windows import Window

Fingerprint = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_TIME = -(2**63)
_NO_COUNT = -1
_MAX_COUNT = 2**31 - 1
_MAX_STATUSES = 2**16
# start, end, updated_at, invitees_read_at, invitees total, invitees active, status index
_RECORD = struct.Struct("<qqqqiiH")


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """A live event as loaded: where it sits in time, its fingerprint, when its invitees were read.

    ``invitees_read_at`` is None for an event loaded before the column existed.
    """

    start_time: datetime
    end_time: datetime | None
    fingerprint: Fingerprint
    invitees_read_at: datetime | None = None


def _micros(moment: Any) -> int | None:
    """Microseconds since the epoch of an aware datetime or None; None if it is neither."""
    if moment is None:
        return _NO_TIME
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return (moment - _EPOCH) // _MICROSECOND
    return None


def _moment(micros: int) -> datetime | None:
    return None if micros == _NO_TIME else _EPOCH + timedelta(microseconds=micros)


def _count(value: Any) -> int | None:
    if value is None:
        return _NO_COUNT
    if type(value) is int and 0 <= value <= _MAX_COUNT:
        return value
    return None


class KnownRecords:
    """Known events by key, each packed in one ``bytes``."""

    __slots__ = ("_packed", "_status_index", "_statuses")

    def __init__(self) -> None:
        self._packed: dict[EventKey, bytes] = {}
        self._statuses: list[str | None] = [None]
        self._status_index: dict[str | None, int] = {None: 0}

    def __len__(self) -> int:
        return len(self._packed)

    def put(self, key: EventKey, known: KnownEvent) -> bool:
        """Pack and store ``known``; False (nothing stored) when it does not fit the record."""
        fields = self._fields(known)
        if fields is None:
            return False
        self._packed[key] = _RECORD.pack(*fields)
        return True

    def get(self, key: EventKey) -> KnownEvent | None:
        """The stored event, unpacked; None if ``key`` is not stored."""
        packed = self._packed.get(key)
        if packed is None:
            return None
        start, end, updated, read_at, total, active, status = _RECORD.unpack(packed)
        fingerprint = (
            _moment(updated),
            self._statuses[status],
            None if total == _NO_COUNT else total,
            None if active == _NO_COUNT else active,
        )
        return KnownEvent(_moment(start), _moment(end), fingerprint, _moment(read_at))  # type: ignore[arg-type]

    def starts(self) -> Iterator[tuple[int, EventKey]]:
        """(start in microseconds, key) of every stored event that has a start."""
        for key, packed in self._packed.items():
            start = _RECORD.unpack_from(packed)[0]
            if start != _NO_TIME:
                yield start, key

    def _fields(self, known: KnownEvent) -> tuple[int, ...] | None:
        if len(known.fingerprint) != 4:
            return None
        updated, status, total, active = known.fingerprint
        moments = (known.start_time, known.end_time, updated, known.invitees_read_at)
        fields = [*(_micros(value) for value in moments), _count(total), _count(active)]
        fields.append(self._status(status))
        packed = [value for value in fields if value is not None]
        return tuple(packed) if len(packed) == len(fields) else None

    def _status(self, status: Any) -> int | None:
        if status is not None and not isinstance(status, str):
            return None
        index = self._status_index.get(status)
        if index is None and len(self._statuses) < _MAX_STATUSES:
            index = self._status_index[status] = len(self._statuses)
            self._statuses.append(status)
        return index


class StartIndex:
    """Keys of known events sorted by start time, to find a window's events by bisection.

    Every window of a run used to scan every known event (110k on ``large``,
    times the run's windows).
    """

    __slots__ = ("_keys", "_starts")

    def __init__(self, records: KnownRecords, loose: Mapping[EventKey, KnownEvent]) -> None:
        entries = list(records.starts())
        for key, known in loose.items():
            start = _micros(known.start_time)
            if start is not None and start != _NO_TIME:
                entries.append((start, key))
        entries.sort(key=lambda entry: entry[0])
        self._starts = array("q", (start for start, _ in entries))
        self._keys = [key for _, key in entries]

    def between(self, window: Window) -> list[EventKey]:
        """Keys of the events with ``window.start <= start_time < window.end``."""
        low = bisect.bisect_left(self._starts, _micros(window.start) or 0)
        high = bisect.bisect_left(self._starts, _micros(window.end) or 0)
        return self._keys[low:high]
