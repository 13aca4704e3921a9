"""The hand-built tiny organization against expected values counted by hand.

Every case of issue #4's acceptance list is one booking of
``calendly_elt/simulator/scenarios.py`` (B1..B16); ``tests/expected_tiny.py``
holds the numbers worked out on paper. The organization goes through the real
source into DuckDB and the models are built for the scenario's ``AS_OF``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dlt
import expected_tiny as expected
import pytest
from model_fixtures import duckdb_pipeline, fetch_rows, load_store

from calendly_elt.models.runner import build_models, run_sql_tests
from calendly_elt.simulator.scenarios import MAX, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import Store, uri_of

HOSTS = {uri_of("users", OLIVIA): "olivia", uri_of("users", MAX): "max"}
MAX_URI = uri_of("users", MAX)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dlt.Pipeline, Store]:
    store = build_tiny_organization(expected.AS_OF)
    pipeline = duckdb_pipeline(tmp_path_factory.mktemp("tiny"))
    load_store(pipeline, store)
    build_models(pipeline, as_of=expected.AS_OF)
    return pipeline, store


def _close(want: Any, got: Any) -> bool:
    if isinstance(want, float):
        return got is not None and math.isclose(want, got, rel_tol=0, abs_tol=1e-9)
    return bool(want == got)


def _bookings_by_first_email(pipeline: dlt.Pipeline, store: Store) -> dict[str, dict[str, Any]]:
    email_of = {invitee["uri"]: invitee["email"] for invitee in store.invitees.values()}
    return {email_of[row["booking_id"]]: row for row in fetch_rows(pipeline, "fct_bookings")}


def test_every_hand_counted_booking(tiny: tuple[dlt.Pipeline, Store]) -> None:
    pipeline, store = tiny
    bookings = _bookings_by_first_email(pipeline, store)
    assert set(bookings) == set(expected.BOOKINGS)
    for email, want in expected.BOOKINGS.items():
        got = bookings[email]
        assert HOSTS[got["host_user_uri"]] == want["host"], email
        # the final loaded invitee's email (B1 changed it; B13's new invitee is not loaded)
        assert got["invitee_email"] == want.get("final_email", email), email
        for column, value in want.items():
            if column not in ("host", "final_email"):
                assert _close(value, got[column]), (email, column, value, got[column])


@pytest.mark.parametrize(
    ("email", "outcome", "reschedules"),
    [
        ("resched-twice@example.com", "completed", 2),
        ("resched-cancel@example.com", "canceled", 1),
        ("resched-noshow@example.com", "no_show", 1),
        ("at-asof@example.com", "completed", 0),
        ("resched-lost@example.com", "upcoming", 1),
        ("untracked@example.com", "completed", 0),
    ],
)
def test_acceptance_cases_by_name(
    tiny: tuple[dlt.Pipeline, Store], email: str, outcome: str, reschedules: int
) -> None:
    pipeline, store = tiny
    booking = _bookings_by_first_email(pipeline, store)[email]
    assert (booking["outcome"], booking["reschedule_count"]) == (outcome, reschedules)


def test_cancellation_lead_times_and_lateness(tiny: tuple[dlt.Pipeline, Store]) -> None:
    pipeline, store = tiny
    bookings = _bookings_by_first_email(pipeline, store)
    assert bookings["cancel-24h@example.com"]["cancel_lead_hours"] == 24.0
    assert bookings["cancel-under-24h@example.com"]["cancel_lead_hours"] == pytest.approx(
        23 + 59 / 60, abs=1e-9
    )
    assert bookings["host-cancel@example.com"]["canceler_type"] == "host"
    assert bookings["invitee-cancel@example.com"]["canceler_type"] == "invitee"
    group = [bookings[f"group-{letter}@example.com"] for letter in "abc"]
    assert len({row["event_uri"] for row in group}) == 1
    assert [row["outcome"] for row in group] == ["completed", "canceled", "completed"]


def _assert_metric(
    pipeline: dlt.Pipeline,
    mart: str,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    want: dict[tuple[Any, ...], tuple[Any, ...]],
) -> None:
    rows = {tuple(row[key] for key in keys): row for row in fetch_rows(pipeline, mart)}
    assert set(rows) == set(want), mart
    for key, values in want.items():
        for column, value in zip(columns, values, strict=True):
            assert _close(value, rows[key][column]), (mart, key, column, value, rows[key][column])


def test_utm_attribution_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("utm_source", "utm_medium", "utm_campaign")
    _assert_metric(
        tiny[0], "metrics_utm_attribution", keys, expected.UTM_COLUMNS, expected.UTM_ATTRIBUTION
    )


def test_no_shows_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("month", "event_type_name")
    _assert_metric(tiny[0], "metrics_no_shows", keys, expected.NO_SHOW_COLUMNS, expected.NO_SHOWS)


def test_cancellations_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("month", "event_type_name")
    _assert_metric(
        tiny[0],
        "metrics_cancellations",
        keys,
        expected.CANCELLATION_COLUMNS,
        expected.CANCELLATIONS,
    )


def test_sql_tests_pass_on_the_tiny_organization(tiny: tuple[dlt.Pipeline, Store]) -> None:
    assert run_sql_tests(tiny[0]) == []


def test_meetings_and_dimensions(tiny: tuple[dlt.Pipeline, Store], tmp_path: Path) -> None:
    pipeline, store = tiny
    meetings = {row["event_uri"]: row for row in fetch_rows(pipeline, "fct_meetings")}
    assert set(meetings) == {event["uri"] for event in store.events.values()}
    webinar = next(row for row in meetings.values() if row["loaded_invitees"] == 3)
    assert (webinar["active_invitees"], webinar["is_canceled"]) == (2, False)
    assert webinar["event_type_name"] == expected.WEBINAR
    users = {row["user_uri"]: row for row in fetch_rows(pipeline, "dim_users")}
    hosted = {uri: sum(1 for m in meetings.values() if m["host_user_uri"] == uri) for uri in HOSTS}
    assert {uri: users[uri]["hosted_meetings"] for uri in HOSTS} == hosted
    type_names = {row["event_type_name"] for row in fetch_rows(pipeline, "dim_event_types")}
    assert expected.INTRO in type_names and expected.LEGACY not in type_names


# ---- issue 12 marts: the SQL against the numbers counted by hand in expected_tiny.py ----


def test_hosts_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    rows = {HOSTS[row["host_user_uri"]]: row for row in fetch_rows(tiny[0], "metrics_hosts")}
    assert set(rows) == set(expected.HOSTS)
    for host, values in expected.HOSTS.items():
        assert (rows[host]["host_name"], rows[host]["host_email"]) == expected.HOST_NAMES[host]
        for column, value in zip(expected.HOST_COLUMNS, values, strict=True):
            assert _close(value, rows[host][column]), (host, column, value, rows[host][column])


def test_lead_time_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("event_type_name", "utm_source")
    _assert_metric(
        tiny[0], "metrics_lead_time", keys, expected.LEAD_TIME_COLUMNS, expected.LEAD_TIME
    )


def test_popular_times_in_the_hosts_zones_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("weekday", "hour")
    _assert_metric(
        tiny[0], "metrics_popular_times", keys, expected.POPULAR_TIME_COLUMNS,
        expected.POPULAR_TIMES,
    )  # fmt: skip
    names = {
        row["weekday"]: row["weekday_name"] for row in fetch_rows(tiny[0], "metrics_popular_times")
    }
    assert names == {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday"}


def test_popular_times_fall_back_to_utc_without_the_hosts_zone(
    tiny: tuple[dlt.Pipeline, Store],
) -> None:
    pipeline, _ = tiny
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("users")
        client.execute_sql(f"update {table} set timezone = null where uri = %s", MAX_URI)
    try:
        build_models(pipeline, as_of=expected.AS_OF)
        rows = fetch_rows(pipeline, "metrics_popular_times")
    finally:
        with pipeline.sql_client() as client:
            client.execute_sql(
                f"update {table} set timezone = 'America/New_York' where uri = %s", MAX_URI
            )
        build_models(pipeline, as_of=expected.AS_OF)
    # Max's 7 meetings read at their UTC start (counted by hand from the scenario), Olivia's
    # still in Berlin: bookings, held, no_shows, no_show_rate, utc_fallback_bookings
    want = {
        (1, 16): (3, 1, 0, 0.0, 0),  # Olivia: B1, B5, B13
        (2, 16): (2, 1, 1, 1.0, 1),  # B3 (Olivia, no-show) + B2 (Max, 16:00 UTC, canceled)
        (4, 16): (2, 1, 0, 0.0, 1),  # B11 (Olivia) + B6 (Max, canceled)
        (5, 16): (1, 0, 0, None, 0),  # B7
        (4, 18): (3, 2, 0, 0.0, 0),  # the webinar
        (3, 14): (1, 0, 0, None, 1),  # B4 canceled
        (4, 12): (1, 1, 0, 0.0, 1),  # B12 at AS_OF
        (4, 15): (2, 1, 0, 0.0, 2),  # B16 held, B14 upcoming
        (3, 16): (1, 1, 0, 0.0, 1),  # B15
    }
    got = {(row["weekday"], row["hour"]): row for row in rows}
    assert set(got) == set(want)
    for key, values in want.items():
        for column, value in zip(expected.POPULAR_TIME_COLUMNS, values, strict=True):
            assert _close(value, got[key][column]), (key, column, value, got[key][column])


def test_routing_funnel_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    rows = fetch_rows(tiny[0], "metrics_routing_funnel")
    assert {row["routing_form_name"] for row in rows} == {expected.ROUTING_FORM_NAME}
    assert len({row["routing_form_uri"] for row in rows}) == 1
    _assert_metric(
        tiny[0], "metrics_routing_funnel", ("question", "answer"),
        expected.ROUTING_FUNNEL_COLUMNS, expected.ROUTING_FUNNEL,
    )  # fmt: skip


def test_weekly_by_hand(tiny: tuple[dlt.Pipeline, Store]) -> None:
    keys = ("week", "event_type_name")
    _assert_metric(tiny[0], "metrics_weekly", keys, expected.WEEKLY_COLUMNS, expected.WEEKLY)
    assert all(week.isoweekday() == 1 for week, _ in expected.WEEKLY)


def _form_totals(pipeline: dlt.Pipeline) -> tuple[int, int, int]:
    rows = fetch_rows(pipeline, "metrics_routing_funnel")
    (total,) = [row for row in rows if row["question"] == "(all)"]
    return total["submissions"], total["booked"], total["held"]


def test_routing_funnel_links_through_invitees_when_the_submitter_is_missing(
    tiny: tuple[dlt.Pipeline, Store],
) -> None:
    pipeline, _ = tiny
    with pipeline.sql_client() as client:
        submissions = client.make_qualified_table_name("routing_form_submissions")
        invitees = client.make_qualified_table_name("invitees")
        saved = client.execute_sql(f"select uri, submitter from {submissions}")
        linked = client.execute_sql(
            f"select uri, routing_form_submission from {invitees} "
            "where routing_form_submission is not null"
        )
    try:
        with pipeline.sql_client() as client:
            client.execute_sql(f"update {submissions} set submitter = null")
        build_models(pipeline, as_of=expected.AS_OF)
        # S1..S3 still reach B3, B5, B12 through their invitees' routing_form_submission
        assert _form_totals(pipeline) == (4, 3, 2)
        with pipeline.sql_client() as client:
            client.execute_sql(f"update {invitees} set routing_form_submission = null")
        build_models(pipeline, as_of=expected.AS_OF)
        assert _form_totals(pipeline) == (4, 0, 0)  # no link left: nothing booked
    finally:
        with pipeline.sql_client() as client:
            for uri, submitter in saved:
                client.execute_sql(
                    f"update {submissions} set submitter = %s where uri = %s", submitter, uri
                )
            for uri, submission in linked:
                client.execute_sql(
                    f"update {invitees} set routing_form_submission = %s where uri = %s",
                    submission,
                    uri,
                )
        build_models(pipeline, as_of=expected.AS_OF)
    assert _form_totals(pipeline) == (4, 3, 2)
