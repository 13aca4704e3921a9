"""Ground truth of the hand-built tiny organization against hand-counted values."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import expected_tiny as expected
import pytest

from calendly_elt.simulator.ground_truth import (
    FCT_BOOKINGS_COLUMNS,
    compute_ground_truth,
    export_ground_truth,
)
from calendly_elt.simulator.scenarios import MAX, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import Store, uri_of, uuid_of


@pytest.fixture(scope="module")
def tiny() -> Store:
    return build_tiny_organization(expected.AS_OF)


@pytest.fixture(scope="module")
def truth(tiny: Store):
    return compute_ground_truth(tiny, expected.AS_OF)


def _first_invitee_uri(store: Store, email: str) -> str:
    (first,) = [i for i in store.invitees.values() if i["email"] == email and not i["old_invitee"]]
    return first["uri"]


def _rows_by_email(store: Store, rows: list[dict]) -> dict[str, dict]:
    email_of = {i["uri"]: i["email"] for i in store.invitees.values()}
    return {email_of[row["booking_id"]]: row for row in rows}


def test_one_booking_row_per_hand_counted_booking(tiny: Store, truth) -> None:
    rows = _rows_by_email(tiny, truth.bookings)
    assert sorted(rows) == sorted(expected.BOOKINGS)
    assert all(tuple(row) == FCT_BOOKINGS_COLUMNS for row in truth.bookings)


@pytest.mark.parametrize("email", sorted(expected.BOOKINGS))
def test_booking_row_matches_hand_count(tiny: Store, truth, email: str) -> None:
    row = _rows_by_email(tiny, truth.bookings)[email]
    want = dict(expected.BOOKINGS[email])
    host = want.pop("host")
    final_email = want.pop("final_email", email)
    assert row["booking_id"] == _first_invitee_uri(tiny, email)
    assert row["host_user_uri"] == uri_of("users", {"olivia": OLIVIA, "max": MAX}[host])
    assert row["invitee_email"] == final_email
    final = tiny.invitees[uuid_of(row["invitee_uri"])]
    assert final["event"] == row["event_uri"]
    assert tiny.events[uuid_of(row["event_uri"])]["event_type"] == row["event_type_uri"]
    lead = want.pop("cancel_lead_hours")
    for column, value in want.items():
        assert row[column] == value, column
    if lead is None:
        assert row["cancel_lead_hours"] is None
    else:
        assert row["cancel_lead_hours"] == pytest.approx(lead, abs=1e-9)


def test_rescheduled_twice_chain_ends_on_third_invitee(tiny: Store, truth) -> None:
    row = _rows_by_email(tiny, truth.bookings)["resched-twice@example.com"]
    emails = {"resched-twice@example.com", "resched-twice-new@example.com"}
    chain = [i for i in tiny.invitees.values() if i["email"] in emails]
    assert len(chain) == 3
    assert chain[-1]["tracking"]["utm_source"] == "facebook"  # not what the booking reports
    assert row["utm_source"] == "google"
    assert row["invitee_uri"] == next(i["uri"] for i in chain if i["status"] == "active")
    assert row["invitee_uri"] != row["booking_id"]


def test_lost_reschedule_keeps_the_old_event(tiny: Store, truth) -> None:
    row = _rows_by_email(tiny, truth.bookings)["resched-lost@example.com"]
    final = tiny.invitees[uuid_of(row["invitee_uri"])]
    assert final["rescheduled"] is True
    assert final["new_invitee"] not in {i["uri"] for i in tiny.invitees.values()}
    assert row["invitee_uri"] == row["booking_id"]


def _keyed(rows: list[dict], keys: tuple[str, ...], columns: tuple[str, ...]) -> dict:
    return {tuple(r[k] for k in keys): tuple(r[c] for c in columns) for r in rows}


def _assert_same(actual: dict, wanted: dict) -> None:
    assert sorted(actual, key=str) == sorted(wanted, key=str)
    for key, values in wanted.items():
        for got, want in zip(actual[key], values, strict=True):
            if want is None:
                assert got is None, key
            else:
                assert got == pytest.approx(want, abs=1e-9), key


def test_utm_attribution_matches_hand_count(truth) -> None:
    keys = ("utm_source", "utm_medium", "utm_campaign")
    _assert_same(_keyed(truth.utm_attribution, keys, expected.UTM_COLUMNS),
                 expected.UTM_ATTRIBUTION)  # fmt: skip


def test_no_shows_match_hand_count(truth) -> None:
    actual = _keyed(truth.no_shows, ("month", "event_type_name"), expected.NO_SHOW_COLUMNS)
    _assert_same(actual, expected.NO_SHOWS)


def test_cancellations_match_hand_count(truth) -> None:
    keys = ("month", "event_type_name")
    _assert_same(_keyed(truth.cancellations, keys, expected.CANCELLATION_COLUMNS),
                 expected.CANCELLATIONS)  # fmt: skip


def test_as_of_moves_meetings_between_upcoming_and_completed(tiny: Store) -> None:
    earlier = compute_ground_truth(tiny, expected.AS_OF - timedelta(microseconds=1))
    rows = _rows_by_email(tiny, earlier.bookings)
    assert rows["at-asof@example.com"]["outcome"] == "upcoming"
    assert rows["group-a@example.com"]["outcome"] == "completed"


def test_export_writes_json_with_iso_timestamps(tiny: Store, tmp_path) -> None:
    path = export_ground_truth(tiny, expected.AS_OF, tmp_path / "truth.json")
    document = json.loads(path.read_text())
    assert document["as_of"] == "2026-01-15T12:00:00+00:00"
    assert len(document["fct_bookings"]) == len(expected.BOOKINGS)
    months = {row["month"] for row in document["metrics_no_shows"]}
    assert months == {"2025-11-01", "2025-12-01", "2026-01-01", "2026-02-01"}
    first = document["fct_bookings"][0]
    assert datetime.fromisoformat(first["start_at"]).tzinfo is not None
    assert isinstance(date.fromisoformat(document["metrics_cancellations"][0]["month"]), date)


def test_cancellation_without_created_at_has_no_lead() -> None:
    store = build_tiny_organization(expected.AS_OF)
    canceled = next(i for i in store.invitees.values() if i["email"] == "cancel-24h@example.com")
    canceled["cancellation"] = {
        key: value for key, value in canceled["cancellation"].items() if key != "created_at"
    }
    truth = compute_ground_truth(store, expected.AS_OF)
    row = _rows_by_email(store, truth.bookings)["cancel-24h@example.com"]
    assert row["outcome"] == "canceled"
    assert row["canceled_at"] is None and row["cancel_lead_hours"] is None
    december_demo = next(
        r for r in truth.cancellations
        if r["month"] == date(2025, 12, 1) and r["event_type_name"] == "Demo"
    )  # fmt: skip
    assert december_demo["canceled"] == 2 and december_demo["median_cancel_lead_hours"] == 220.0
