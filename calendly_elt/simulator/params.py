"""Query parameters of the simulated API, parsed and refused as Calendly does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from calendly_elt.simulator.pagination import (
    invalid_argument,
)
from calendly_elt.simulator.store import (
    Resource,
    format_ts,
    parse_ts,
)
from calendly_elt.simulator.wire import SimRequest


def required(request: SimRequest, name: str) -> str:
    """A required parameter's value (or a 400 naming it)."""
    value = request.param(name)
    if not value:
        raise invalid_argument(name, "is required")
    return value


def enum_param(request: SimRequest, name: str, allowed: Sequence[str]) -> str | None:
    """An optional parameter that must be one of ``allowed`` (or a 400)."""
    value = request.param(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise invalid_argument(name, f"must be one of {', '.join(allowed)}")
    return value


def timestamp_param(request: SimRequest, name: str) -> str | None:
    """A time filter normalised to the stored timestamp format (or a 400)."""
    value = request.param(name)
    if not value:
        return None
    try:
        return format_ts(parse_ts(value))
    except ValueError:
        raise invalid_argument(
            name, "must be a UTC timestamp like 2020-01-02T03:04:05.678123Z"
        ) from None


def parse_sort(raw: str | None, default: str, fields: Sequence[str]) -> tuple[str, bool]:
    """``field:asc|desc`` -> (field, descending); the direction defaults to asc."""
    field_name, _, direction = (raw or default).partition(":")
    direction = direction or "asc"
    if field_name not in fields or direction not in ("asc", "desc"):
        raise invalid_argument(
            "sort", f"must be one of {', '.join(f + ':asc|desc' for f in fields)}"
        )
    return field_name, direction == "desc"


def filter_boolean(request: SimRequest, rows: Iterable[Resource], name: str) -> list[Resource]:
    """``rows`` whose ``name`` matches the ``true``/``false`` parameter (all if absent)."""
    raw = request.param(name)
    if raw is None or raw == "":
        return list(rows)
    if raw not in ("true", "false"):
        raise invalid_argument(name, "must be true or false")
    wanted = raw == "true"
    return [row for row in rows if bool(row.get(name)) == wanted]


def sort_value(row: Resource, field_name: str) -> Any:
    """The sort key of a row (names case-insensitive, nulls first)."""
    value = row.get(field_name)
    if field_name == "name" and isinstance(value, str):
        return value.lower()
    return "" if value is None else value
