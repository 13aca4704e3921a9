"""Row shaping: API objects as the raw tables hold them.

Rows are the API objects as Calendly returns them, with every ``*_at`` /
``*_time`` timestamp converted to an aware UTC datetime; dlt flattens nested
objects into ``parent__child`` columns and lists into child tables. Events
and invitees also carry the soft-delete columns ``is_deleted``/``deleted_at``
(see ``soft_deletes.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from calendly_elt.calendly.helpers.paging import PAGE_SIZE
from calendly_elt.calendly.helpers.windows import parse_api_timestamp

Row = dict[str, Any]
_TIMESTAMP_SUFFIXES = ("_at", "_time")


def to_utc_datetimes(value: Any, key: str = "") -> Any:
    """Convert every ``*_at``/``*_time`` timestamp string, at any depth, to aware UTC.

    Args:
        value: An API object, list or scalar.
        key: The key ``value`` was found under.

    Returns:
        A copy with timestamp strings replaced by datetimes.
    """
    if isinstance(value, dict):
        return {name: to_utc_datetimes(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [to_utc_datetimes(item, key) for item in value]
    if isinstance(value, str) and key.endswith(_TIMESTAMP_SUFFIXES):
        try:
            return parse_api_timestamp(value)
        except ValueError:
            return value
    return value


def live_row(row: Row) -> Row:
    """An event or invitee as read: timestamps converted, live (not deleted)."""
    shaped = to_utc_datetimes(row)
    shaped["is_deleted"] = False
    shaped["deleted_at"] = None
    return shaped


def uuid_of(uri: str) -> str:
    """The last path segment of a Calendly URI (``.../scheduled_events/<uuid>``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def in_pages(rows: list[Row], size: int = PAGE_SIZE) -> Iterator[list[Row]]:
    """``rows`` cut into lists of ``size`` (what a resource yields at a time)."""
    for offset in range(0, len(rows), size):
        yield rows[offset : offset + size]
