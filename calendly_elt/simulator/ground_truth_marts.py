"""The marts of issue 12 computed straight from the simulator's store.

The companion of ``ground_truth.py`` (same oracle rules: plain Python over the
API-shaped objects, independent of the SQL): by host, booking lead time,
weekday x hour in the host's time zone, the routing form funnel and the
weekly series, as defined in ``docs/metrics.md``. Every function takes the
``fct_bookings`` rows of ``ground_truth.fct_bookings`` and, where it needs
more, the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendly_elt.simulator.ground_truth import (
    NONE_LABEL,
    _chains,
    _count,
    _grouped,
    _is,
    _rate,
    _rescheduled,
    fct_bookings,
)
from calendly_elt.simulator.store import Resource, Store, uuid_of

Row = dict[str, Any]
ALL_LABEL = "(all)"
CHOICE_QUESTION_TYPES = frozenset({"select", "radios"})
__all__ = ["compute_mart_truth", "percentile_cont", "submission_bookings"]

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _held(row: Row) -> bool:
    return row["outcome"] in ("completed", "no_show")


def _canceled_by(canceler: str) -> Callable[[Row], bool]:
    return lambda row: row["outcome"] == "canceled" and row["canceler_type"] == canceler


def _outcome_counts(rows: list[Row]) -> Row:
    """The outcome counts metrics_hosts and metrics_weekly share."""
    completed, no_shows = _count(rows, _is("completed")), _count(rows, _is("no_show"))
    return {
        "bookings": len(rows),
        "held": completed + no_shows,
        "completed": completed,
        "no_shows": no_shows,
        "canceled": _count(rows, _is("canceled")),
        "canceled_by_host": _count(rows, _canceled_by("host")),
        "canceled_by_invitee": _count(rows, _canceled_by("invitee")),
        "upcoming": _count(rows, _is("upcoming")),
        "rescheduled_bookings": _count(rows, _rescheduled),
    }


def _loaded_user(store: Store, uri: str | None) -> Resource | None:
    """The user ``uri`` as dim_users holds it (every host of a loaded event is loaded)."""
    return store.users.get(uuid_of(uri)) if uri else None


def host_metrics(store: Store, bookings: list[Row]) -> list[Row]:
    """``metrics_hosts``: outcome counts and rates by host (``(none)`` without a host)."""
    result = []
    for (host,), rows in _grouped(bookings, lambda row: (row["host_user_uri"] or NONE_LABEL,)):
        user = _loaded_user(store, None if host == NONE_LABEL else host)
        counts = _outcome_counts(rows)
        result.append({
            "host_user_uri": host,
            "host_name": user["name"] if user else None,
            "host_email": user["email"] if user else None,
            **counts,
            "no_show_rate": _rate(counts["no_shows"], counts["held"]),
            "cancellation_rate": _rate(counts["canceled"], len(rows)),
            "host_cancellation_rate": _rate(counts["canceled_by_host"], len(rows)),
            "invitee_cancellation_rate": _rate(counts["canceled_by_invitee"], len(rows)),
            "reschedule_rate": _rate(counts["rescheduled_bookings"], len(rows)),
        })  # fmt: skip
    return result


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """SQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def lead_hours(row: Row) -> float:
    """Hours from ``booked_at`` to the final meeting's ``start_at``."""
    return float((row["start_at"] - row["booked_at"]).total_seconds() / 3600)


def lead_time_metrics(bookings: list[Row]) -> list[Row]:
    """``metrics_lead_time`` by (event type, utm_source), with ``(all)`` roll-ups."""
    grains: list[tuple[str, str, float]] = []
    for row in bookings:
        event_type, source = row["event_type_name"], row["utm_source"] or NONE_LABEL
        hours = lead_hours(row)
        for key in ((event_type, source), (event_type, ALL_LABEL), (ALL_LABEL, source)):
            grains.append((*key, hours))
        grains.append((ALL_LABEL, ALL_LABEL, hours))
    groups: dict[tuple[str, str], list[float]] = {}
    for event_type, source, hours in grains:
        groups.setdefault((event_type, source), []).append(hours)
    result = []
    for (event_type, source), leads in sorted(groups.items()):
        within_24h = sum(1 for hours in leads if hours <= 24)
        within_7d = sum(1 for hours in leads if hours <= 24 * 7)
        result.append({
            "event_type_name": event_type, "utm_source": source, "bookings": len(leads),
            "median_lead_hours": percentile_cont(leads, 0.5),
            "p90_lead_hours": percentile_cont(leads, 0.9),
            "booked_within_24h": within_24h, "booked_within_7d": within_7d,
            "share_within_24h": _rate(within_24h, len(leads)),
            "share_within_7d": _rate(within_7d, len(leads)),
        })  # fmt: skip
    return result


def host_local_start(store: Store, row: Row) -> tuple[datetime, bool]:
    """The booking's start in its host's time zone, and whether UTC stood in for it."""
    user = _loaded_user(store, row["host_user_uri"])
    zone = user.get("timezone") if user else None
    return row["start_at"].astimezone(ZoneInfo(zone or "UTC")), zone is None


def popular_times(store: Store, bookings: list[Row]) -> list[Row]:
    """``metrics_popular_times`` by (ISO weekday, hour) of the start in the host's zone."""
    slots: dict[tuple[int, int], list[tuple[Row, bool]]] = {}
    for row in bookings:
        local, fallback = host_local_start(store, row)
        slots.setdefault((local.isoweekday(), local.hour), []).append((row, fallback))
    result = []
    for (weekday, hour), entries in sorted(slots.items()):
        rows = [row for row, _ in entries]
        held, no_shows = _count(rows, _held), _count(rows, _is("no_show"))
        result.append({
            "weekday": weekday, "weekday_name": WEEKDAY_NAMES[weekday - 1], "hour": hour,
            "bookings": len(rows), "held": held, "no_shows": no_shows,
            "no_show_rate": _rate(no_shows, held),
            "utc_fallback_bookings": sum(1 for _, fallback in entries if fallback),
        })  # fmt: skip
    return result


def week_of(row: Row) -> date:
    """Monday of the UTC week of the booking's final start."""
    day: date = row["start_at"].date()
    return day - timedelta(days=day.weekday())


def weekly_metrics(bookings: list[Row]) -> list[Row]:
    """``metrics_weekly`` by (week, event_type_name)."""
    result = []
    for (week, type_name), rows in _grouped(bookings, lambda r: (week_of(r), r["event_type_name"])):
        counts = _outcome_counts(rows)
        result.append({
            "week": week, "event_type_name": type_name, **counts,
            "no_show_rate": _rate(counts["no_shows"], counts["held"]),
            "show_rate": _rate(counts["completed"], counts["held"]),
            "cancellation_rate": _rate(counts["canceled"], len(rows)),
            "reschedule_rate": _rate(counts["rescheduled_bookings"], len(rows)),
        })  # fmt: skip
    return result


def submission_bookings(store: Store, bookings: list[Row]) -> dict[str, Row | None]:
    """Each submission's booking (None when there is none).

    Of the bookings its ``submitter`` and the invitees linked to it (their
    ``routing_form_submission``) belong to, the earliest booked, then the
    smallest ``booking_id``.
    """
    booking_of = {invitee["uri"]: chain[0]["uri"] for chain in _chains(store) for invitee in chain}
    by_id = {row["booking_id"]: row for row in bookings}
    linked: dict[str, set[str]] = {}
    for submission in store.routing_form_submissions.values():
        if submission["submitter"] in booking_of:
            linked.setdefault(submission["uri"], set()).add(booking_of[submission["submitter"]])
    for invitee in store.invitees.values():
        if invitee.get("routing_form_submission"):
            linked.setdefault(invitee["routing_form_submission"], set()).add(
                booking_of[invitee["uri"]]
            )
    result: dict[str, Row | None] = {}
    for submission in store.routing_form_submissions.values():
        candidates = [by_id[booking_id] for booking_id in linked.get(submission["uri"], ())]
        candidates.sort(key=lambda row: (row["booked_at"], row["booking_id"]))
        result[submission["uri"]] = candidates[0] if candidates else None
    return result


def _labelled(value: str | None) -> str:
    return NONE_LABEL if value is None else value


def _choice_answers(store: Store, submission: Resource) -> list[tuple[str, str]]:
    """(question, answer) of the submission's answers to select/radios questions of its form."""
    form = store.routing_forms.get(uuid_of(submission["routing_form"]))
    types = {q["uuid"]: q["type"] for q in (form or {}).get("questions") or []}
    return [
        (_labelled(entry.get("question")), _labelled(entry.get("answer")))
        for entry in submission.get("questions_and_answers") or []
        if types.get(entry.get("question_uuid")) in CHOICE_QUESTION_TYPES
    ]


def _funnel_row(store: Store, key: tuple[str, str, str], outcomes: list[str | None]) -> Row:
    form_uri, question, answer = key
    form = store.routing_forms.get(uuid_of(form_uri))
    booked = sum(1 for outcome in outcomes if outcome is not None)
    held = sum(1 for outcome in outcomes if outcome in ("completed", "no_show"))
    no_shows = sum(1 for outcome in outcomes if outcome == "no_show")
    return {
        "routing_form_uri": form_uri, "routing_form_name": form["name"] if form else None,
        "question": question, "answer": answer, "submissions": len(outcomes),
        "booked": booked, "held": held, "no_shows": no_shows,
        "booking_rate": _rate(booked, len(outcomes)), "held_rate": _rate(held, booked),
        "submission_to_held_rate": _rate(held, len(outcomes)),
        "no_show_rate": _rate(no_shows, held),
    }  # fmt: skip


def routing_funnel(store: Store, bookings: list[Row]) -> list[Row]:
    """``metrics_routing_funnel`` by form (question/answer ``(all)``) and by choice answer."""
    booking_of = submission_bookings(store, bookings)
    groups: dict[tuple[str, str, str], list[str | None]] = {}
    for submission in store.routing_form_submissions.values():
        booking = booking_of[submission["uri"]]
        outcome = booking["outcome"] if booking else None
        form = submission["routing_form"]
        keys = [(ALL_LABEL, ALL_LABEL), *_choice_answers(store, submission)]
        for question, answer in keys:
            groups.setdefault((form, question, answer), []).append(outcome)
    return [_funnel_row(store, key, outcomes) for key, outcomes in sorted(groups.items())]


def compute_mart_truth(store: Store, as_of: datetime) -> dict[str, list[Row]]:
    """The issue-12 marts for ``as_of``, keyed by mart name.

    Args:
        store: The simulated organization (read only).
        as_of: The model build's reference instant (aware).

    Returns:
        ``metrics_hosts``, ``metrics_lead_time``, ``metrics_popular_times``,
        ``metrics_routing_funnel`` and ``metrics_weekly`` rows.
    """
    bookings = fct_bookings(store, as_of)
    with store.lock:
        return {
            "metrics_hosts": host_metrics(store, bookings),
            "metrics_lead_time": lead_time_metrics(bookings),
            "metrics_popular_times": popular_times(store, bookings),
            "metrics_routing_funnel": routing_funnel(store, bookings),
            "metrics_weekly": weekly_metrics(bookings),
        }
