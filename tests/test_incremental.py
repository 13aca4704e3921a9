"""Incremental runs: each kind of change is captured by one run, cheaply, deletions soft.

One ``small`` organization is loaded once; then each mutation is applied to
the simulator, the clock moves on an hour, one incremental run follows, and
the load must again equal the simulator (live rows) - plus the specific
change is checked field by field.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from source_harness import (
    SourceHarness,
    assert_matches_store,
    first,
    query,
    table_rows,
    uuid,
)

from calendly_elt.simulator import mutations
from calendly_elt.simulator.store import Store, parse_ts


def _future_active_invitee(store: Store, *, group: bool = False) -> dict[str, Any]:
    now = store.clock.now()

    def fits(invitee: dict[str, Any]) -> bool:
        event = store.events[uuid(invitee["event"])]
        is_group = event["invitees_counter"]["limit"] > 1
        return (
            invitee["status"] == "active"
            and parse_ts(event["start_time"]) > now + timedelta(days=2)
            and is_group == group
        )

    return first(store.invitees.values(), fits)


def _loaded(harness: SourceHarness, pipeline: Any, table: str, uri: str) -> dict[str, Any]:
    rows = [row for row in table_rows(pipeline, table) if row["uri"] == uri]
    assert len(rows) == 1, f"{uri} loaded {len(rows)} times"
    return rows[0]


RECHECK_AGES = tuple(
    timedelta(**age)
    for age in ({"hours": 1}, {"days": 1}, {"days": 3}, {"days": 7}, {"days": 14}, {"days": 30})
)  # the default no_show_rechecks


def _recently_ended(scenario: Scenario) -> int:
    """Meetings read by the last run that passed an age of the no-show recheck schedule.

    Every meeting was read by the previous run (the backfill), so one is due
    when an age after its end falls in (previous run, last run].
    """
    previous, last = scenario.pipeline.state["sources"]["calendly"]["history"][-2:]
    read_from = datetime.fromisoformat(last["range_start"])
    read_at = datetime.fromisoformat(previous["started_at"])
    now = datetime.fromisoformat(last["started_at"])
    return sum(
        1
        for event in scenario.store.events.values()
        if parse_ts(event["start_time"]) >= read_from
        and any(read_at < parse_ts(event["end_time"]) + age <= now for age in RECHECK_AGES)
    )


class Scenario:
    """Apply a change, run once incrementally, check the load equals the simulator."""

    def __init__(self, harness: SourceHarness) -> None:
        self.harness = harness
        self.store = harness.store
        self.pipeline = harness.pipeline()
        self.harness.run(self.pipeline)

    def run_once(self) -> Any:
        self.store.clock.advance(timedelta(hours=1))
        summary = self.harness.run(self.pipeline)
        assert summary.kind == "incremental"
        assert_matches_store(self.pipeline, self.store, ("scheduled_events", "invitees"))
        return summary

    def invitee(self, uri: str) -> dict[str, Any]:
        return _loaded(self.harness, self.pipeline, "invitees", uri)

    def event(self, uri: str) -> dict[str, Any]:
        return _loaded(self.harness, self.pipeline, "scheduled_events", uri)


def test_each_kind_of_change_is_captured_by_one_incremental_run(
    small_harness: SourceHarness,
) -> None:
    scenario = Scenario(small_harness)
    store = scenario.store

    # invitee cancels
    target = _future_active_invitee(store)
    mutations.cancel_invitee(store, uuid(target["uri"]), reason="found another slot")
    summary = scenario.run_once()
    loaded = scenario.invitee(target["uri"])
    assert loaded["status"] == "canceled"
    assert loaded["cancellation__reason"] == "found another slot"
    assert loaded["cancellation__canceler_type"] == "invitee"
    # invitees re-fetched only for the changed event and meetings that just ended
    assert summary.invitee_calls == 1 + _recently_ended(scenario) < summary.events / 4

    # host cancels the whole event
    invitee = _future_active_invitee(store)
    event_uri = invitee["event"]
    mutations.cancel_event(store, uuid(event_uri), reason="host is sick")
    scenario.run_once()
    assert scenario.event(event_uri)["status"] == "canceled"
    assert scenario.event(event_uri)["cancellation__canceler_type"] == "host"
    assert scenario.invitee(invitee["uri"])["status"] == "canceled"

    # reschedule: old invitee canceled + rescheduled, new invitee on a new event
    old = _future_active_invitee(store)
    new_start = parse_ts(store.events[uuid(old["event"])]["start_time"]) + timedelta(days=3)
    new = mutations.reschedule(store, uuid(old["uri"]), new_start_time=new_start)
    scenario.run_once()
    assert scenario.invitee(old["uri"])["rescheduled"] is True
    assert scenario.invitee(old["uri"])["new_invitee"] == new["uri"]
    assert scenario.invitee(new["uri"])["old_invitee"] == old["uri"]
    assert scenario.event(new["event"])["status"] == "active"

    # no-show marked on a meeting that just ended (updated_at unchanged)
    solo_type = first(store.event_types.values(), lambda t: t["active"] and t["kind"] == "solo")
    attended = mutations.book(
        store,
        event_type_uuid=uuid(solo_type["uri"]),
        start_time=store.clock.now() + timedelta(hours=2),
        email="soon@example.com",
        name="Soon Attendee",
    )
    scenario.run_once()
    store.clock.advance(timedelta(hours=3))  # the meeting is over
    updated_before = attended["updated_at"]
    no_show = mutations.mark_no_show(store, uuid(attended["uri"]))
    assert store.invitees[uuid(attended["uri"])]["updated_at"] == updated_before
    scenario.run_once()
    assert scenario.invitee(attended["uri"])["no_show__uri"] == no_show["uri"]

    # ... and unmarked again: seen at the meeting's next recheck age (1 d after its end)
    mutations.unmark_no_show(store, uuid(no_show["uri"]))
    store.clock.advance(timedelta(days=1))
    scenario.run_once()
    assert scenario.invitee(attended["uri"])["no_show__uri"] is None

    # a group event gains an invitee, and another of its invitees cancels
    member = _future_active_invitee(store, group=True)
    group_event = store.events[uuid(member["event"])]
    joined = mutations.book(
        store,
        event_type_uuid=uuid(group_event["event_type"]),
        start_time=parse_ts(group_event["start_time"]),
        email="late.joiner@example.com",
        name="Late Joiner",
        event_uuid=uuid(group_event["uri"]),
    )
    mutations.cancel_invitee(store, uuid(member["uri"]), reason="cannot make it")
    scenario.run_once()
    assert scenario.invitee(joined["uri"])["email"] == "late.joiner@example.com"
    assert scenario.invitee(member["uri"])["status"] == "canceled"
    loaded_group = scenario.event(group_event["uri"])
    assert loaded_group["invitees_counter__total"] == group_event["invitees_counter"]["total"]

    # a booking far in the future (within the horizon)
    solo_type = first(store.event_types.values(), lambda t: t["active"] and t["kind"] == "solo")
    far = mutations.book(
        store,
        event_type_uuid=uuid(solo_type["uri"]),
        start_time=store.clock.now() + timedelta(days=300),
        email="planner@example.com",
        name="Far Planner",
        tracking={"utm_source": "newsletter"},
    )
    scenario.run_once()
    assert scenario.invitee(far["uri"])["tracking__utm_source"] == "newsletter"

    # a routing form is submitted (submissions are read newest first, down to old loaded ones)
    earlier = next(iter(store.routing_form_submissions.values()))
    submission = mutations.submit_routing_form(
        store,
        uuid(earlier["routing_form"]),
        questions_and_answers=earlier["questions_and_answers"],
        tracking={"utm_source": "google"},
    )
    small_harness.sim.stats.reset()
    scenario.run_once()
    assert_matches_store(scenario.pipeline, store, ("routing_form_submissions",))
    assert submission["uri"] in {
        row["uri"] for row in table_rows(scenario.pipeline, "routing_form_submissions")
    }
    assert small_harness.sim.stats["GET /routing_form_submissions"] == len(store.routing_forms)

    # data-compliance deletion: the invitee, and its event if left empty, are soft-deleted
    # (an e-mail booked only once, on a meeting inside the re-read range)
    emails = Counter(invitee["email"] for invitee in store.invitees.values())
    doomed = first(
        store.invitees.values(),
        lambda i: (
            emails[i["email"]] == 1
            and parse_ts(store.events[uuid(i["event"])]["start_time"]) > store.clock.now()
        ),
    )
    doomed_event = doomed["event"]
    alone = len(store.invitees_by_event[uuid(doomed_event)]) == 1
    removed = mutations.delete_invitee_data(store, [doomed["email"]])
    assert removed >= 1
    deleted_at = store.clock.now() + timedelta(hours=1)
    summary = scenario.run_once()
    assert summary.deleted >= 1
    gone = scenario.invitee(doomed["uri"])
    assert gone["is_deleted"] is True
    assert gone["deleted_at"] == deleted_at
    if alone:
        assert scenario.event(doomed_event)["is_deleted"] is True
    live = query(
        scenario.pipeline,
        "select count(*) from calendly.invitees where is_deleted is not true",
    )
    assert live[0][0] == len(store.invitees)


def test_full_refresh_rereads_every_invitee_and_marks_vanished_events(
    tiny_harness: SourceHarness,
) -> None:
    store = tiny_harness.store
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    # an old meeting (outside any lookback) loses its only invitee: only a full
    # refresh re-reads that window
    now = store.clock.now()
    old = first(
        store.invitees.values(),
        lambda i: (
            parse_ts(store.events[uuid(i["event"])]["start_time"]) < now - timedelta(days=90)
            and len(store.invitees_by_event[uuid(i["event"])]) == 1
        ),
    )
    mutations.delete_invitee_data(store, [old["email"]])
    store.clock.advance(timedelta(days=1))

    incremental = tiny_harness.run(pipeline)
    assert incremental.deleted == 0
    refresh = tiny_harness.run(
        pipeline, settings=tiny_harness.settings(checkpoint_events=1), full_refresh=True
    )

    assert refresh.kind == "full_refresh"
    assert refresh.windows == 38 and refresh.packages > 3  # 37 windows + the open one
    assert refresh.invitee_calls == refresh.events == len(store.events)
    assert refresh.deleted >= 2
    flags = query(
        pipeline,
        f"select is_deleted from calendly.scheduled_events where uri = '{old['event']}'",
    )
    assert flags == [(True,)]
    assert_matches_store(pipeline, store, ("scheduled_events", "invitees"))


def test_backfill_since_rereads_from_that_date(tiny_harness: SourceHarness) -> None:
    store = tiny_harness.store
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    since = store.clock.now() - timedelta(days=120)
    settings = tiny_harness.settings(checkpoint_events=1)  # several load packages

    summary = tiny_harness.run(pipeline, settings=settings, since=since)

    expected = [e for e in store.events.values() if parse_ts(e["start_time"]) >= since]
    assert summary.kind == "since"
    assert summary.windows == 18  # 120 days back + 365 ahead in 30-day windows, + the open one
    assert summary.packages > 3
    assert summary.events == summary.invitee_calls == len(expected)
    assert_matches_store(pipeline, store, ("scheduled_events", "invitees"))


def test_later_runs_start_at_last_success_minus_lookback(tiny_harness: SourceHarness) -> None:
    store = tiny_harness.store
    pipeline = tiny_harness.pipeline()
    first_run_at = store.clock.now()
    tiny_harness.run(pipeline)
    store.clock.advance(timedelta(days=2))
    # rechecks up to 3 days reach back less than the lookback (the default 30 d one reaches 31 d)
    settings = tiny_harness.settings(lookback_days=10, no_show_rechecks="1h,1d,3d")
    tiny_harness.run(pipeline, settings=settings)

    history = pipeline.state["sources"]["calendly"]["history"]
    assert [run["kind"] for run in history] == ["backfill", "incremental"]
    assert datetime.fromisoformat(history[0]["range_start"]) == datetime(
        2024, 1, 15, tzinfo=first_run_at.tzinfo
    )
    assert datetime.fromisoformat(history[1]["range_start"]) == first_run_at - timedelta(days=10)
    assert datetime.fromisoformat(history[1]["range_end"]) == store.clock.now() + timedelta(
        days=365
    )


def test_an_invitee_deleted_from_an_event_that_stays_is_soft_deleted(
    small_harness: SourceHarness,
) -> None:
    store = small_harness.store
    pipeline = small_harness.pipeline()
    small_harness.run(pipeline)
    emails = Counter(invitee["email"] for invitee in store.invitees.values())
    doomed = first(
        store.invitees.values(),
        lambda i: (
            emails[i["email"]] == 1
            and len(store.invitees_by_event[uuid(i["event"])]) > 1
            and parse_ts(store.events[uuid(i["event"])]["start_time"]) > store.clock.now()
        ),
    )
    assert mutations.delete_invitee_data(store, [doomed["email"]]) == 1
    store.clock.advance(timedelta(hours=1))

    summary = small_harness.run(pipeline)

    deleted = {
        table: [row["uri"] for row in table_rows(pipeline, table) if row["is_deleted"]]
        for table in ("scheduled_events", "invitees")
    }
    assert deleted == {"scheduled_events": [], "invitees": [doomed["uri"]]}
    assert summary.kind == "incremental" and summary.deleted == 1
    rows = {row["uri"]: row for row in table_rows(pipeline, "invitees")}
    assert rows[doomed["uri"]]["is_deleted"] is True
    assert rows[doomed["uri"]]["deleted_at"] == store.clock.now()
    event = [
        row for row in table_rows(pipeline, "scheduled_events") if row["uri"] == doomed["event"]
    ]
    assert [row["is_deleted"] for row in event] == [False]
    assert_matches_store(pipeline, store, ("scheduled_events", "invitees"))
