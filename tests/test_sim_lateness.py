"""Late no-show marks in the simulator: the delay mixture, the queue, and the day report."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.day_report import how_far_ahead
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization
from calendly_elt.simulator.lateness import (
    BUCKETS,
    bucket_of_mark,
    lateness_bucket,
    mark_delay,
)
from calendly_elt.simulator.store import Store, format_ts, parse_ts, uuid_of


@pytest.fixture(scope="module")
def medium_after_a_week() -> tuple[Store, list]:
    store = generate_organization(7, "medium")
    pending = list(store.pending_marks)
    days = [simulate_day(store, seed=100 + day) for day in range(7)]
    return store, [pending, days]


def test_delays_follow_the_mixture() -> None:
    rng = random.Random(1)
    delays = [mark_delay(rng) for _ in range(20_000)]
    shares = Counter(lateness_bucket(delay) for delay in delays)
    assert abs(shares["under_1d"] / 20_000 - 0.70) < 0.02
    assert abs(shares["1d_to_7d"] / 20_000 - 0.20) < 0.02
    assert abs(shares["7d_to_28d"] / 20_000 - 0.10) < 0.02
    assert min(delays) >= timedelta(minutes=5) and max(delays) <= timedelta(days=28)


def test_bucket_boundaries() -> None:
    assert lateness_bucket(timedelta(minutes=-10)) == "under_1d"
    assert lateness_bucket(timedelta(hours=23, minutes=59)) == "under_1d"
    assert lateness_bucket(timedelta(days=1)) == "1d_to_7d"
    assert lateness_bucket(timedelta(days=7)) == "7d_to_28d"
    assert lateness_bucket(timedelta(days=28)) == "over_28d" == BUCKETS[-1]


def test_generated_history_has_late_marks_and_a_queue() -> None:
    store = generate_organization(7, "medium")
    buckets = Counter(bucket_of_mark(store, i) for i in store.invitees.values() if i["no_show"])
    marks = sum(buckets.values())
    assert marks == len(store.no_shows)
    assert 0.6 < buckets["under_1d"] / marks < 0.8
    assert buckets["1d_to_7d"] / marks > 0.1 and buckets["7d_to_28d"] / marks > 0.04
    now = format_ts(store.clock.now())
    assert store.pending_marks and all(due > now for due, _, _ in store.pending_marks)
    for _, _, invitee_uuid in store.pending_marks:
        invitee = store.invitees[invitee_uuid]
        assert invitee["no_show"] is None
        assert store.events[uuid_of(invitee["event"])]["start_time"] < now


def test_queued_marks_are_made_when_due(medium_after_a_week) -> None:
    store, (pending, _) = medium_after_a_week
    week_end = format_ts(DEFAULT_NOW + timedelta(days=7))
    due_in_week = [(due, uuid) for due, _, uuid in pending if due <= week_end]
    assert due_in_week
    for due, invitee_uuid in due_in_week:
        no_show = store.invitees[invitee_uuid]["no_show"]
        if no_show is not None:  # an unmark of the week may have removed it again
            assert no_show["created_at"] == due
    assert all(due > week_end for due, _, _ in store.pending_marks)


def test_day_report_lists_every_change(medium_after_a_week) -> None:
    _, (_, days) = medium_after_a_week
    for day in days:
        kinds = Counter(change.kind for change in day.changes)
        assert kinds["mark"] == day.no_shows_marked == sum(day.no_shows_by_lateness.values())
        assert kinds["unmark"] == day.no_shows_unmarked
        assert kinds["book"] == day.bookings and kinds["reschedule"] == day.reschedules
        assert kinds["cancel_host"] == day.host_cancels
        assert kinds["cancel_invitee"] == day.invitee_cancels
        assert set(day.no_shows_by_lateness) <= set(BUCKETS)
    assert sum(day.beyond_horizon_changes for day in days) >= 3
    assert all(day.far_ahead_changes >= day.beyond_horizon_changes for day in days)
    late = sum(d.no_shows_by_lateness.get("1d_to_7d", 0) for d in days)
    assert late >= 1


def test_far_ahead_changes_hit_meetings_far_ahead(medium_after_a_week) -> None:
    store, (_, days) = medium_after_a_week
    far = [c for day in days for c in day.changes if c.ahead == "beyond_horizon"]
    assert far
    for change in far:
        event = store.events[change.event_uuid]
        assert parse_ts(event["start_time"]) - DEFAULT_NOW > timedelta(days=365)
    assert how_far_ahead(DEFAULT_NOW, DEFAULT_NOW + timedelta(days=31)) == "far"
    assert how_far_ahead(DEFAULT_NOW, DEFAULT_NOW + timedelta(days=2)) == "near"


def test_marks_of_a_day_are_made_on_meetings_already_over(medium_after_a_week) -> None:
    store, (_, days) = medium_after_a_week
    for change in (c for day in days for c in day.changes if c.kind == "mark"):
        invitee = store.invitees[change.invitee_uuid]
        if invitee["no_show"] is not None:
            start = store.events[change.event_uuid]["start_time"]
            assert start < invitee["no_show"]["created_at"]
            assert bucket_of_mark(store, invitee) == change.lateness
