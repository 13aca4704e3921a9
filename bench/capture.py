"""Which of the day's changes a side captured: its loaded rows against the simulator's state.

For every change of a simulated day (``ActivitySummary.changes``) the rows it
concerns - the invitee, its event, a reschedule's new invitee and event, all
invitees of a host-canceled event - are looked up in the side's DuckDB file
and compared with the store after the run: an event's ``status`` and
cancellation, an invitee's ``status``, ``rescheduled``, cancellation and
``no_show``. A change is captured when every row it concerns is loaded and
agrees. Shares are reported by kind of change, and the marks by lateness.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from calendly_elt.simulator.day_report import DayChange
from calendly_elt.simulator.store import Store, uuid_of

TABLES = {  # side -> (events table, invitees table)
    "ours": ("scheduled_events", "invitees"),
    "baseline": ("events", "invitees"),
}
# compared by value, or only whether they are set
EVENT_FIELDS = ("status", "cancellation__created_at")
INVITEE_FIELDS = ("status", "rescheduled", "cancellation__created_at", "no_show__uri")
BY_VALUE = {"status", "rescheduled"}

State = dict[str, tuple[Any, ...]]


def _read(connection: Any, dataset: str, table: str, fields: tuple[str, ...]) -> State:
    """``uri -> (is set, ...)`` per field; a missing column reads as never set."""
    columns = {
        name
        for (name,) in connection.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [dataset, table],
        ).fetchall()
    }
    if "uri" not in columns:
        return {}
    selected = ", ".join(f'"{f}"' if f in columns else "null" for f in fields)
    where = " where not coalesce(is_deleted, false)" if "is_deleted" in columns else ""
    rows = connection.execute(f'select uri, {selected} from "{dataset}"."{table}"{where}')
    return {uri: _shape(fields, values) for uri, *values in rows.fetchall()}


def _shape(fields: tuple[str, ...], values: list[Any]) -> tuple[Any, ...]:
    """``BY_VALUE`` fields as they are (a null boolean as false), others as set / not set."""
    return tuple(
        (bool(value) if name == "rescheduled" else value) if name in BY_VALUE else value is not None
        for name, value in zip(fields, values, strict=True)
    )


def _truth(resource: dict[str, Any], fields: tuple[str, ...]) -> tuple[Any, ...]:
    values = []
    for name in fields:
        value: Any = resource
        for part in name.split("__"):
            value = value.get(part) if isinstance(value, dict) else None
        values.append(value)
    return _shape(fields, values)


class LoadedState:
    """A side's loaded events and invitees, to compare with the store."""

    def __init__(self, duckdb_path: Path, dataset: str, side: str) -> None:
        events_table, invitees_table = TABLES[side]
        with duckdb.connect(str(duckdb_path), read_only=True) as connection:
            self.events = _read(connection, dataset, events_table, EVENT_FIELDS)
            self.invitees = _read(connection, dataset, invitees_table, INVITEE_FIELDS)

    def event_agrees(self, store: Store, uuid: str) -> bool:
        event = store.events.get(uuid)
        return event is not None and self.events.get(event["uri"]) == _truth(event, EVENT_FIELDS)

    def invitee_agrees(self, store: Store, uuid: str) -> bool:
        invitee = store.invitees.get(uuid)
        return invitee is not None and (
            self.invitees.get(invitee["uri"]) == _truth(invitee, INVITEE_FIELDS)
        )


def _concerned(store: Store, change: DayChange) -> tuple[list[str], list[str]]:
    """The event and invitee uuids a change concerns."""
    events, invitees = [change.event_uuid], [change.invitee_uuid] if change.invitee_uuid else []
    if change.kind == "cancel_host":
        invitees = [uuid_of(i["uri"]) for i in store.invitees_of(change.event_uuid)]
    if change.new_event_uuid:
        events.append(change.new_event_uuid)
        new_invitee = store.invitees[change.invitee_uuid].get("new_invitee")
        invitees += [uuid_of(new_invitee)] if new_invitee else []
    return events, invitees


def captured_changes(store: Store, changes: list[DayChange], loaded: LoadedState) -> dict[str, Any]:
    """Shares of the day's changes the loaded data agree with, overall, by kind and lateness."""
    total, hit = Counter[str](), Counter[str]()
    for change in changes:
        events, invitees = _concerned(store, change)
        ok = all(loaded.event_agrees(store, u) for u in events) and all(
            loaded.invitee_agrees(store, u) for u in invitees
        )
        keys = ["all", change.kind]
        keys += [f"mark_{change.lateness}"] if change.lateness else []
        keys += [f"ahead_{change.ahead}"] if change.ahead else []
        for key in keys:
            total[key] += 1
            hit[key] += ok
    return {
        key: {"changes": total[key], "captured": hit[key], "share": round(hit[key] / total[key], 4)}
        for key in sorted(total)
    }


def state_agreement(store: Store, loaded: LoadedState) -> dict[str, float]:
    """Shares of the store's events and invitees the loaded rows agree with."""
    events = sum(loaded.event_agrees(store, uuid) for uuid in store.events)
    invitees = sum(loaded.invitee_agrees(store, uuid) for uuid in store.invitees)
    return {
        "events": round(events / max(1, len(store.events)), 4),
        "invitees": round(invitees / max(1, len(store.invitees)), 4),
    }
