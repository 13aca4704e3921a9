"""The metrics of DESIGN.md computed straight from the simulator's store.

This is the oracle the SQL models are tested against, so it is written
independently of any SQL: plain Python over the API-shaped objects. It
implements the "Metric definitions" of DESIGN.md plus the decisions recorded
in DECISIONLOG.md ("Ground truth and marts: resolved ambiguities"):

- only invitees present in the store count; ``as_of`` decides upcoming vs
  completed but does not filter what was loaded;
- cancellation columns of ``fct_bookings`` are filled only for canceled
  bookings (a reschedule's technical cancellation is not a cancellation);
- ``fct_bookings`` keeps raw (possibly null) UTM values; the ``(none)`` label
  is applied in ``metrics_utm_attribution`` only;
- ``metrics_no_shows`` and ``metrics_cancellations`` have one row per
  (month, event_type_name) having at least one booking.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from calendly_elt.simulator.store import Resource, Store, parse_ts, uuid_of

NONE_LABEL = "(none)"
LATE_CANCEL_HOURS = 24.0
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")

FCT_BOOKINGS_COLUMNS = (
    "booking_id", "invitee_uri", "event_uri", "event_type_uri", "event_type_name",
    "host_user_uri", "invitee_email", "booked_at", "start_at", "reschedule_count", "outcome",
    "canceled_at", "canceler_type", "cancel_reason", "cancel_lead_hours", "utm_source",
    "utm_medium", "utm_campaign", "utm_content", "utm_term",
)  # fmt: skip


@dataclass
class GroundTruth:
    """Every ``fct_bookings`` row and the three metric marts, as lists of dicts."""

    as_of: datetime
    bookings: list[dict[str, Any]] = field(default_factory=list)
    utm_attribution: list[dict[str, Any]] = field(default_factory=list)
    no_shows: list[dict[str, Any]] = field(default_factory=list)
    cancellations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        """JSON text: timestamps as ISO 8601 UTC strings, months as ``YYYY-MM-DD``."""
        document = {
            "as_of": self.as_of,
            "fct_bookings": self.bookings,
            "metrics_utm_attribution": self.utm_attribution,
            "metrics_no_shows": self.no_shows,
            "metrics_cancellations": self.cancellations,
        }
        return json.dumps(document, default=_json_value, indent=2, sort_keys=True)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# ---- bookings -----------------------------------------------------------------


def _chains(store: Store) -> list[list[Resource]]:
    """Invitee chains (original booking then its reschedules) over present invitees."""
    by_uri = {invitee["uri"]: invitee for invitee in store.invitees.values()}
    chains = []
    for invitee in by_uri.values():
        if invitee["old_invitee"] in by_uri:
            continue  # not the first present invitee of its chain
        chain = [invitee]
        while chain[-1]["new_invitee"] in by_uri:
            chain.append(by_uri[chain[-1]["new_invitee"]])
        chains.append(chain)
    return chains


def _outcome(final: Resource, start_at: datetime, as_of: datetime, by_uri: set[str]) -> str:
    if final["status"] == "canceled" and not final["rescheduled"]:
        return "canceled"
    rescheduled_away = final["rescheduled"] and final["new_invitee"] not in by_uri
    if start_at > as_of or rescheduled_away:
        return "upcoming"
    if final["no_show"] is not None:
        return "no_show"
    return "completed"


def _cancellation_columns(final: Resource, start_at: datetime, outcome: str) -> dict[str, Any]:
    cancellation = final.get("cancellation") if outcome == "canceled" else None
    if not cancellation:
        return {"canceled_at": None, "canceler_type": None, "cancel_reason": None,
                "cancel_lead_hours": None}  # fmt: skip
    created = cancellation.get("created_at")  # absent in older data: no lead
    canceled_at = parse_ts(created) if created else None
    return {
        "canceled_at": canceled_at,
        "canceler_type": cancellation.get("canceler_type"),
        "cancel_reason": cancellation.get("reason"),
        "cancel_lead_hours": (
            (start_at - canceled_at).total_seconds() / 3600 if canceled_at else None
        ),
    }


def _booking_row(
    store: Store, chain: list[Resource], as_of: datetime, present: set[str]
) -> dict[str, Any]:
    first, final = chain[0], chain[-1]
    event = store.events[uuid_of(final["event"])]
    event_type = store.event_types.get(uuid_of(event["event_type"]))
    start_at = parse_ts(event["start_time"])
    outcome = _outcome(final, start_at, as_of, present)
    tracking = first["tracking"] or {}
    memberships = event["event_memberships"]
    return {
        "booking_id": first["uri"],
        "invitee_uri": final["uri"],
        "event_uri": event["uri"],
        "event_type_uri": event["event_type"],
        "event_type_name": event_type["name"] if event_type else event["name"],
        "host_user_uri": memberships[0]["user"] if memberships else None,
        "invitee_email": final["email"],
        "booked_at": parse_ts(first["created_at"]),
        "start_at": start_at,
        "reschedule_count": sum(1 for invitee in chain if invitee["rescheduled"]),
        "outcome": outcome,
        **_cancellation_columns(final, start_at, outcome),
        **{key: tracking.get(key) for key in (*UTM_KEYS, "utm_content", "utm_term")},
    }


def fct_bookings(store: Store, as_of: datetime) -> list[dict[str, Any]]:
    """One row per booking, columns as the ``fct_bookings`` contract, ordered by booking_id."""
    as_of = as_of.astimezone(UTC)
    with store.lock:
        present = {invitee["uri"] for invitee in store.invitees.values()}
        rows = [_booking_row(store, chain, as_of, present) for chain in _chains(store)]
    return sorted(rows, key=lambda row: row["booking_id"])


# ---- marts ---------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _count(rows: Iterable[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> int:
    return sum(1 for row in rows if predicate(row))


def _grouped(
    rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> list[tuple[tuple[Any, ...], list[dict[str, Any]]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return sorted(groups.items(), key=lambda item: tuple(str(part) for part in item[0]))


def _utm_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[key] if row[key] is not None else NONE_LABEL for key in UTM_KEYS)


def _month(row: dict[str, Any]) -> date:
    return row["start_at"].date().replace(day=1)


def _month_type_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (_month(row), row["event_type_name"])


def _is(outcome: str) -> Callable[[dict[str, Any]], bool]:
    return lambda row: row["outcome"] == outcome


def _rescheduled(row: dict[str, Any]) -> bool:
    return bool(row["reschedule_count"] >= 1)


def utm_attribution(bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``metrics_utm_attribution``: first-touch UTM groups with outcome counts and rates."""
    result = []
    for (source, medium, campaign), rows in _grouped(bookings, _utm_key):
        completed, no_shows = _count(rows, _is("completed")), _count(rows, _is("no_show"))
        canceled = _count(rows, _is("canceled"))
        result.append({
            "utm_source": source, "utm_medium": medium, "utm_campaign": campaign,
            "bookings": len(rows), "completed": completed, "no_shows": no_shows,
            "canceled": canceled, "upcoming": _count(rows, _is("upcoming")),
            "rescheduled_bookings": _count(rows, _rescheduled),
            "show_rate": _rate(completed, completed + no_shows),
            "no_show_rate": _rate(no_shows, completed + no_shows),
            "cancellation_rate": _rate(canceled, len(rows)),
        })  # fmt: skip
    return result


def no_show_metrics(bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``metrics_no_shows`` by (month, event_type_name): held, no_shows, no_show_rate."""
    result = []
    for (month, type_name), rows in _grouped(bookings, _month_type_key):
        no_shows = _count(rows, _is("no_show"))
        held = _count(rows, _is("completed")) + no_shows
        result.append({"month": month, "event_type_name": type_name, "held": held,
                       "no_shows": no_shows, "no_show_rate": _rate(no_shows, held)})  # fmt: skip
    return result


def cancellation_metrics(bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``metrics_cancellations`` by (month, event_type_name)."""
    result = []
    for (month, type_name), rows in _grouped(bookings, _month_type_key):
        canceled = [row for row in rows if row["outcome"] == "canceled"]
        leads = [
            row["cancel_lead_hours"] for row in canceled if row["cancel_lead_hours"] is not None
        ]
        rescheduled = _count(rows, _rescheduled)
        result.append({
            "month": month, "event_type_name": type_name, "bookings": len(rows),
            "canceled": len(canceled),
            "canceled_by_host": _count(canceled, lambda row: row["canceler_type"] == "host"),
            "canceled_by_invitee": _count(
                canceled, lambda row: row["canceler_type"] == "invitee"
            ),
            "rescheduled_bookings": rescheduled,
            "late_cancellations": sum(1 for lead in leads if lead < LATE_CANCEL_HOURS),
            "cancellation_rate": _rate(len(canceled), len(rows)),
            "reschedule_rate": _rate(rescheduled, len(rows)),
            "median_cancel_lead_hours": statistics.median(leads) if leads else None,
        })  # fmt: skip
    return result


# ---- public --------------------------------------------------------------------


def compute_ground_truth(store: Store, as_of: datetime) -> GroundTruth:
    """Compute ``fct_bookings`` and the three metric marts for ``as_of``.

    Args:
        store: The simulated organization (read only).
        as_of: The model build's reference instant (aware).

    Returns:
        The expected mart contents.
    """
    bookings = fct_bookings(store, as_of)
    return GroundTruth(
        as_of=as_of.astimezone(UTC),
        bookings=bookings,
        utm_attribution=utm_attribution(bookings),
        no_shows=no_show_metrics(bookings),
        cancellations=cancellation_metrics(bookings),
    )


def export_ground_truth(store: Store, as_of: datetime, path: str | Path) -> Path:
    """Write the ground truth for ``as_of`` as JSON to ``path``; returns the path."""
    target = Path(path)
    target.write_text(compute_ground_truth(store, as_of).to_json(), encoding="utf-8")
    return target
