"""Quarantine: records that break the raw-table contract go aside, not into the tables.

The contract is ``COLUMN_HINTS`` (``settings.py``): the columns the models
read, with their types. A record whose primary key is missing or not a
string, or whose contract column holds a value of the wrong type (a
timestamp that does not parse, a number where text belongs, ...), is not
loaded: it becomes a row of the raw table ``quarantine`` (the resource, its
key if any, the reason, the record as JSON, when it was last seen), merged
on a hash of resource and record, so seeing it again on every run is one row.
dlt therefore never invents a variant column (``start_time__v_text``) for a
contract column, the marts never see the record, and no later run trips on
it. The run warns with a count and the CLI exits 4 when anything was
quarantined (``fail_on_quarantine``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.rows import Row
from calendly_elt.calendly.settings import COLUMN_HINTS

logger = logging.getLogger(__name__)

TABLE = "quarantine"
COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False},
    "resource": {"data_type": "text", "nullable": True},
    "record_key": {"data_type": "text", "nullable": True},
    "reason": {"data_type": "text", "nullable": True},
    "raw_json": {"data_type": "text", "nullable": True},
    "last_seen_at": {"data_type": "timestamp", "nullable": True},
}
_CHECKS = {
    "text": lambda value: isinstance(value, str),
    "timestamp": lambda value: isinstance(value, datetime),
    "bool": lambda value: isinstance(value, bool),
    "bigint": lambda value: isinstance(value, int) and not isinstance(value, bool),
}
_EXPECTED = {"text": "text", "timestamp": "a timestamp", "bool": "true/false", "bigint": "a number"}


def contract_violation(table: str, row: Row, key: str = "uri") -> str | None:
    """Why ``row`` (shaped: timestamps already parsed) breaks ``table``'s contract, or None."""
    if not isinstance(row.get(key), str) or not row.get(key):
        return f"no {key}"
    for column, hint in COLUMN_HINTS.get(table, {}).items():
        value = _flattened(row, column)
        check = _CHECKS.get(hint["data_type"])
        if value is not None and check is not None and not check(value):
            return f"{column} is not {_EXPECTED[hint['data_type']]}: {_shown(value)}"
    return None


def _flattened(row: Mapping[str, Any], column: str) -> Any:
    """The value dlt would load into ``column`` (``parent__child`` is ``row[parent][child]``)."""
    value: Any = row
    for part in column.split("__"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:60] + ("..." if len(text) > 60 else ""))


def split_valid(table: str, rows: Iterable[Row], key: str = "uri") -> tuple[list[Row], list[Row]]:
    """``(valid rows, quarantine rows)`` of ``table``."""
    valid: list[Row] = []
    bad: list[Row] = []
    for row in rows:
        reason = contract_violation(table, row, key)
        if reason is None:
            valid.append(row)
        else:
            bad.append(quarantine_row(table, row, reason, key))
    if bad:
        logger.warning(
            "%s: %d record(s) quarantined (%s)", table, len(bad), "; ".join(_reasons(bad))
        )
    return valid, bad


def quarantine_row(resource: str, row: Row, reason: str, key: str = "uri") -> Row:
    """The ``quarantine`` row of a record that ``resource`` cannot load."""
    raw = json.dumps(row, default=_json_default, sort_keys=True)
    digest = hashlib.sha256(f"{resource}\n{raw}".encode()).hexdigest()
    record_key = row.get(key) if isinstance(row.get(key), str) else None
    return {
        "id": digest,
        "resource": resource,
        "record_key": record_key,
        "reason": reason,
        "raw_json": raw,
        "last_seen_at": datetime.now(UTC),
    }


def as_quarantine(rows: list[Row]) -> Any:
    """``rows`` marked for the ``quarantine`` table, from whichever resource found them."""
    hints = dlt.mark.make_hints(
        table_name=TABLE,
        write_disposition="merge",
        primary_key="id",
        columns=COLUMNS,  # type: ignore[arg-type]
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def is_quarantine_row(row: Any) -> bool:
    """Whether ``row`` is a quarantine row (a transformer may be handed them with a page)."""
    return isinstance(row, Mapping) and "raw_json" in row and "reason" in row


def _reasons(rows: list[Row]) -> list[str]:
    shown = [f"{row['record_key'] or 'no key'}: {row['reason']}" for row in rows[:3]]
    return [*shown, f"and {len(rows) - 3} more"] if len(rows) > 3 else shown


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
