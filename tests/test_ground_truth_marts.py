"""The issue-12 ground truth (``ground_truth_marts``) against hand-counted values and edge cases.

The tiny organization's numbers are in ``tests/expected_tiny.py`` (counted on
paper from ``calendly_elt/simulator/scenarios.py``); the SQL marts are checked
against the same numbers in ``tests/test_models_tiny.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import expected_tiny as expected
import pytest

from calendly_elt.simulator import mutations
from calendly_elt.simulator.ground_truth import fct_bookings
from calendly_elt.simulator.ground_truth_marts import (
    compute_mart_truth,
    percentile_cont,
    popular_times,
    submission_bookings,
)
from calendly_elt.simulator.scenarios import LEAD_FORM, MAX, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import Store, uri_of, uuid_of

HOST_NAMES = {uri_of("users", OLIVIA): "olivia", uri_of("users", MAX): "max"}


@pytest.fixture(scope="module")
def truth() -> dict[str, list[dict[str, Any]]]:
    return compute_mart_truth(build_tiny_organization(expected.AS_OF), expected.AS_OF)


def _assert_keyed(
    rows: list[dict[str, Any]],
    key: Any,
    columns: tuple[str, ...],
    wanted: dict[Any, tuple[Any, ...]],
) -> None:
    actual = {key(row): row for row in rows}
    assert sorted(actual, key=str) == sorted(wanted, key=str)
    for name, values in wanted.items():
        for column, want in zip(columns, values, strict=True):
            got = actual[name][column]
            if want is None:
                assert got is None, (name, column)
            else:
                assert got == pytest.approx(want, abs=1e-9), (name, column)


def test_hosts_match_hand_count(truth: dict[str, list[dict[str, Any]]]) -> None:
    rows = truth["metrics_hosts"]
    _assert_keyed(
        rows, lambda row: HOST_NAMES[row["host_user_uri"]], expected.HOST_COLUMNS, expected.HOSTS
    )
    names = {
        HOST_NAMES[row["host_user_uri"]]: (row["host_name"], row["host_email"]) for row in rows
    }
    assert names == expected.HOST_NAMES


def test_lead_time_matches_hand_count(truth: dict[str, list[dict[str, Any]]]) -> None:
    _assert_keyed(
        truth["metrics_lead_time"],
        lambda row: (row["event_type_name"], row["utm_source"]),
        expected.LEAD_TIME_COLUMNS,
        expected.LEAD_TIME,
    )


def test_popular_times_match_hand_count(truth: dict[str, list[dict[str, Any]]]) -> None:
    _assert_keyed(
        truth["metrics_popular_times"],
        lambda row: (row["weekday"], row["hour"]),
        expected.POPULAR_TIME_COLUMNS,
        expected.POPULAR_TIMES,
    )


def test_routing_funnel_matches_hand_count(truth: dict[str, list[dict[str, Any]]]) -> None:
    rows = truth["metrics_routing_funnel"]
    assert {(row["routing_form_uri"], row["routing_form_name"]) for row in rows} == {
        (uri_of("routing_forms", LEAD_FORM), expected.ROUTING_FORM_NAME)
    }
    _assert_keyed(
        rows,
        lambda row: (row["question"], row["answer"]),
        expected.ROUTING_FUNNEL_COLUMNS,
        expected.ROUTING_FUNNEL,
    )


def test_weekly_matches_hand_count(truth: dict[str, list[dict[str, Any]]]) -> None:
    _assert_keyed(
        truth["metrics_weekly"],
        lambda row: (row["week"], row["event_type_name"]),
        expected.WEEKLY_COLUMNS,
        expected.WEEKLY,
    )


@pytest.mark.parametrize(
    ("values", "fraction", "want"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 3.0], 0.5, 2.0),
        ([4.0, 1.0, 2.0, 3.0], 0.9, 3.7),  # position 2.7 between 3 and 4
        ([10.0, 0.0, 20.0], 0.5, 10.0),
    ],
)
def test_percentile_cont_interpolates_like_sql(
    values: list[float], fraction: float, want: float | None
) -> None:
    got = percentile_cont(values, fraction)
    assert got == (None if want is None else pytest.approx(want, abs=1e-12))


def test_a_host_without_a_time_zone_is_read_in_utc() -> None:
    store = build_tiny_organization(expected.AS_OF)
    store.users[MAX]["timezone"] = None
    rows = {(r["weekday"], r["hour"]): r for r in popular_times(store, _bookings(store))}
    # B12 starts Thursday 2026-01-15 12:00 UTC: 07:00 in New York, 12:00 read in UTC
    assert (4, 7) not in rows
    assert (rows[(4, 12)]["bookings"], rows[(4, 12)]["utc_fallback_bookings"]) == (1, 1)
    assert sum(row["utc_fallback_bookings"] for row in rows.values()) == 7  # Max's bookings


def _bookings(store: Store) -> list[dict[str, Any]]:
    return fct_bookings(store, expected.AS_OF)


def _email_of_booking(store: Store, booking: dict[str, Any] | None) -> str | None:
    if booking is None:
        return None
    return str(store.invitees[uuid_of(booking["booking_id"])]["email"])


def test_a_submission_links_through_its_invitees_when_the_submitter_is_gone() -> None:
    store = build_tiny_organization(expected.AS_OF)
    submission = _submission_of(store, "resched-noshow@example.com")
    # B3 was rescheduled: its first invitee (the submitter) is deleted, the new one keeps the link
    del store.invitees[uuid_of(submission["submitter"])]
    linked = submission_bookings(store, _bookings(store))[submission["uri"]]
    assert linked is not None and linked["outcome"] == "no_show"


def test_a_submission_linked_to_two_bookings_takes_the_earliest_booked() -> None:
    store = build_tiny_organization(expected.AS_OF)
    submission = _submission_of(store, "at-asof@example.com")
    later = next(i for i in store.invitees.values() if i["email"] == "future-booking@example.com")
    later["routing_form_submission"] = submission["uri"]  # booked 2026-01-10, after B12
    earliest = submission_bookings(store, _bookings(store))[submission["uri"]]
    assert _email_of_booking(store, earliest) == "at-asof@example.com"
    store.clock.set(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    mutations.submit_routing_form(store, LEAD_FORM, questions_and_answers=[])
    unrouted = [link for link in submission_bookings(store, _bookings(store)).values() if not link]
    assert len(unrouted) == 2  # S4 and the new submission


def _submission_of(store: Store, email: str) -> dict[str, Any]:
    for submission in store.routing_form_submissions.values():
        submitter = submission["submitter"]
        if submitter and store.invitees[uuid_of(submitter)]["email"] == email:
            return submission
    raise AssertionError(email)
