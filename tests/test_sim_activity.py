"""A seeded day of activity: deterministic, realistic volume, stamped inside the day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.generator import DEFAULT_NOW, dump_store, generate_organization
from calendly_elt.simulator.store import Store, format_ts, uuid_of

DAY_START, DAY_END = format_ts(DEFAULT_NOW), format_ts(DEFAULT_NOW + timedelta(days=1))


@pytest.fixture(scope="module")
def day() -> tuple[Store, Store, object]:
    before = generate_organization(7, "small")
    after = generate_organization(7, "small")
    summary = simulate_day(after, seed=11, bookings=60)
    return before, after, summary


def test_same_seed_same_day_and_clock_moves_one_day() -> None:
    first, second = generate_organization(2, "tiny"), generate_organization(2, "tiny")
    assert simulate_day(first, 5) == simulate_day(second, 5)
    assert dump_store(first) == dump_store(second)
    assert first.clock.now() == DEFAULT_NOW + timedelta(days=1)
    third = generate_organization(2, "tiny")
    simulate_day(third, 6, bookings=10)
    assert dump_store(third) != dump_store(first)


def test_summary_counts_match_the_store_changes(day) -> None:
    before, after, summary = day
    new = [i for u, i in after.invitees.items() if u not in before.invitees]
    assert len(new) == summary.bookings + summary.group_joins + summary.reschedules
    assert summary.bookings == 60 and summary.far_future_bookings >= 1
    assert summary.reschedules >= 3 and summary.invitee_cancels >= 3
    assert summary.host_cancels >= 3 and summary.group_joins >= 1
    assert sum(1 for i in new if i["old_invitee"]) == summary.reschedules
    canceled_today = [
        i for i in after.invitees.values()
        if i.get("cancellation") and DAY_START <= i["cancellation"]["created_at"] < DAY_END
    ]  # fmt: skip
    assert len(canceled_today) >= summary.invitee_cancels + summary.host_cancels
    marks = [n for n in after.no_shows.values() if n["created_at"] >= DAY_START]
    assert len(marks) == summary.no_shows_marked


def test_every_change_is_stamped_inside_the_day(day) -> None:
    before, after, _ = day
    changed = [
        i for u, i in after.invitees.items()
        if u not in before.invitees or i["updated_at"] != before.invitees[u]["updated_at"]
    ]  # fmt: skip
    assert changed
    assert all(DAY_START <= i["updated_at"] <= DAY_END for i in changed)
    far = [
        e for u, e in after.events.items()
        if u not in before.events and e["start_time"] > format_ts(DEFAULT_NOW + timedelta(days=365))
    ]  # fmt: skip
    assert far


def test_default_volume_touches_about_one_percent_of_events() -> None:
    store = generate_organization(7, "small")
    summary = simulate_day(store, seed=3)
    assert 0.003 * len(store.events) <= summary.touched_events <= 0.03 * len(store.events)


def test_counters_stay_consistent_after_the_day(day) -> None:
    _, after, _ = day
    for uuid, event in after.events.items():
        invitees = after.invitees_of(uuid)
        assert event["invitees_counter"]["total"] == len(invitees)
        active = sum(1 for i in invitees if i["status"] == "active")
        assert event["invitees_counter"]["active"] == active
    for invitee in after.invitees.values():
        if invitee["no_show"]:
            event = after.events[uuid_of(invitee["event"])]
            assert event["start_time"] <= invitee["no_show"]["created_at"]
