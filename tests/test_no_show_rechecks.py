"""Late no-show marks reach the marts through ordinary runs, at a bounded cost per meeting.

A no-show mark changes nothing on the event, so the source re-reads an ended
meeting's invitees on a schedule of ages after its end (``no_show_rechecks``,
default 1h,1d..7d,10d,14d,21d,30d). These tests run that schedule against the
simulator (daily runs for a month, hourly runs for a day and a half) and the
decision function alone over weeks of hourly runs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from source_harness import SourceHarness

from calendly_elt.calendly.helpers.no_shows import (
    DEFAULT_NO_SHOW_RECHECKS,
    NoShowRecheck,
    parse_recheck_ages,
    recheck_reach,
)
from calendly_elt.calendly.helpers.windows import RunRequest, plan_run
from calendly_elt.errors import ConfigError
from calendly_elt.runner import run_extraction
from calendly_elt.simulator import generate_organization, mutations
from calendly_elt.simulator.store import Store, uuid_of

DEFAULT_AGES = parse_recheck_ages(DEFAULT_NO_SHOW_RECHECKS)
SPARSE_AGES = parse_recheck_ages("1h,1d,3d,7d,14d,30d")  # the schedule before daily first weeks
INVITEES_PATH = re.compile(r"/scheduled_events/(?P<event>[^/]+)/invitees$")


class CountingTransport(httpx.BaseTransport):
    """The simulator's transport, counting first-page invitee reads per event."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.invitee_reads: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = INVITEES_PATH.search(request.url.path)
        if found and "page_token" not in request.url.params:
            self.invitee_reads[found["event"]] += 1
        return self.inner.handle_request(request)


def _book_meetings(store: Store, count: int, start: datetime) -> list[dict[str, Any]]:
    event_type = next(uuid for uuid, kind in store.event_types.items() if kind["active"])
    return [
        mutations.book(
            store,
            event_type_uuid=event_type,
            start_time=start + timedelta(minutes=5 * n),
            email=f"late-{n}@example.com",
            name=f"Late Marker {n}",
        )
        for n in range(count)
    ]


def _loaded_no_show(pipeline: Any, invitee_uri: str) -> str | None:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"select no_show__uri from {client.make_qualified_table_name('invitees')}"
            " where uri = %s",
            invitee_uri,
        )
    return rows[0][0] if rows else None


class Scenario:
    """A tiny organization, three meetings ending just after the first run, scheduled runs."""

    def __init__(self, folder: Path) -> None:
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.store = generate_organization(seed=3, size="tiny", now=now)
        self.meetings = _book_meetings(self.store, 3, now + timedelta(minutes=30))
        self.harness = SourceHarness(self.store, folder)
        self.transport = CountingTransport(self.harness.sim.transport())
        self.pipeline = self.harness.pipeline()
        self.settings = self.harness.settings()
        self.started = now
        self.runs = 0

    def end_of(self, invitee: dict[str, Any]) -> datetime:
        event = self.store.events[uuid_of(invitee["event"])]
        return datetime.fromisoformat(event["end_time"].replace("Z", "+00:00"))

    def run(self) -> None:
        summary = run_extraction(
            self.pipeline, self.settings, now=self.store.clock.now, transport=self.transport
        )
        assert summary.kind in ("backfill", "incremental", "sweep")  # a sweep every 7 days
        self.runs += 1

    def reads_of(self, invitee: dict[str, Any]) -> int:
        return self.transport.invitee_reads[uuid_of(invitee["event"])]

    def loaded_no_show(self, invitee: dict[str, Any]) -> str | None:
        return _loaded_no_show(self.pipeline, invitee["uri"])


@pytest.mark.slow
def test_daily_runs_capture_no_shows_marked_3_10_and_25_days_late(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    scenario.run()  # the backfill reads the three meetings (not yet held)
    late = dict(zip((3, 10, 25), scenario.meetings, strict=True))
    marked: dict[int, str] = {}
    marked_on: dict[int, int] = {}
    loaded_on: dict[int, int] = {}
    for day in range(1, 33):
        scenario.store.clock.set(scenario.started + timedelta(days=day))
        for delay, invitee in late.items():
            if delay not in marked and scenario.store.clock.now() >= (
                scenario.end_of(invitee) + timedelta(days=delay) - timedelta(hours=1)
            ):
                marked[delay] = mutations.mark_no_show(scenario.store, uuid_of(invitee["uri"]))[
                    "uri"
                ]
                marked_on[delay] = day
        scenario.run()
        for delay, invitee in late.items():
            if delay in marked and delay not in loaded_on and scenario.loaded_no_show(invitee):
                loaded_on[delay] = day
    assert sorted(marked) == [3, 10, 25]
    # marked just before the meeting turns 3, 10 and 25 days old: daily ages through the
    # first week and the 10 d age load the first two with the next run; 25 days late waits
    # for the 30 d age, five runs later
    assert loaded_on[3] == marked_on[3]
    assert loaded_on[10] == marked_on[10]
    assert loaded_on[25] == marked_on[25] + 5
    for delay, invitee in late.items():
        assert scenario.loaded_no_show(invitee) == marked[delay], delay
        # one read by the backfill, one per age of the schedule: however many runs
        assert scenario.reads_of(invitee) == 1 + len(DEFAULT_AGES)
    assert scenario.runs == 33


@pytest.mark.slow
def test_hourly_runs_reread_an_ended_meeting_once_per_age_not_once_per_run(
    tmp_path: Path,
) -> None:
    scenario = Scenario(tmp_path)
    scenario.run()
    invitee = scenario.meetings[0]
    end = scenario.end_of(invitee)
    marked = None
    for hour in range(1, 31):
        scenario.store.clock.set(scenario.started + timedelta(hours=hour))
        if marked is None and scenario.store.clock.now() >= end + timedelta(hours=3):
            marked = mutations.mark_no_show(scenario.store, uuid_of(invitee["uri"]))["uri"]
        scenario.run()
    # 30 runs; the meeting passed its 1h and 1d ages: two re-reads after the backfill's read
    assert scenario.runs == 31
    assert [scenario.reads_of(meeting) for meeting in scenario.meetings] == [3, 3, 3]
    assert scenario.loaded_no_show(invitee) == marked  # marked at 3 h, read at the 1 d age


def _simulate(ages: tuple[timedelta, ...], every: timedelta, days: int) -> dict[str, Any]:
    """The recheck decision over ``days`` of runs every ``every``, for meetings ended at 0."""
    recheck = NoShowRecheck(ages)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    event = {"uri": "e", "end_time": end}
    # marked an hour after the 3rd, 10th and 25th day: just missed by the 3d, 7d, 14d rechecks
    marks = {delay: end + timedelta(days=delay, hours=1) for delay in (3, 10, 25)}
    read_at: datetime | None = end - timedelta(hours=1)  # read before it ended
    reads, seen = 0, {}
    now = end
    while now < end + timedelta(days=days):
        now += every
        if recheck.due(event, read_at, now):
            reads, read_at = reads + 1, now
            seen.update(
                {delay: now for delay, at in marks.items() if at <= now and delay not in seen}
            )
    return {"reads": reads, "seen": seen}


@pytest.mark.parametrize("every", [timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)])
def test_the_schedule_bounds_rereads_and_sees_late_marks_at_any_run_frequency(
    every: timedelta,
) -> None:
    result = _simulate(SPARSE_AGES, every, days=40)
    # one read per age; ages that pass between the same two runs share it
    runs_that_pass_an_age = {math.ceil(age / every) for age in SPARSE_AGES}
    assert result["reads"] == len(runs_that_pass_an_age) <= len(SPARSE_AGES)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    # each mark is seen at the first run after the next age of the schedule
    for delay, next_age in ((3, 7), (10, 14), (25, 30)):
        seen = result["seen"][delay]
        assert end + timedelta(days=next_age) <= seen < end + timedelta(days=next_age) + every


def test_a_late_run_rechecks_every_age_passed_meanwhile_once() -> None:
    recheck = NoShowRecheck(SPARSE_AGES)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    event = {"uri": "e", "end_time": end}
    assert not recheck.due(event, end - timedelta(hours=1), end + timedelta(minutes=59))
    # nothing ran for 10 days: one read covers the 1h, 1d, 3d and 7d ages
    assert recheck.due(event, end - timedelta(hours=1), end + timedelta(days=10))
    assert not recheck.due(event, end + timedelta(days=10), end + timedelta(days=13))
    assert recheck.due(event, end + timedelta(days=10), end + timedelta(days=14))
    assert not recheck.due(event, end + timedelta(days=30), end + timedelta(days=400))
    assert recheck.due({"uri": "e", "end_time": None}, None, end)  # no end: always read


def test_rechecks_can_be_turned_off() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_recheck_ages("off") == ()
    assert not NoShowRecheck(()).due({"uri": "e", "end_time": end}, None, end + timedelta(days=9))


@pytest.mark.parametrize(
    ("text", "ages"),
    [
        ("1h,1d,3d", (timedelta(hours=1), timedelta(days=1), timedelta(days=3))),
        (" 3d , 90m, 3d ", (timedelta(minutes=90), timedelta(days=3))),
        (["2d", "12h"], (timedelta(hours=12), timedelta(days=2))),
        ("none", ()),
        ("1h, 2d..4d", tuple(timedelta(hours=h) for h in (1, 48, 72, 96))),
        ("22h..23h,1d", (timedelta(hours=22), timedelta(hours=23), timedelta(days=1))),
        (
            DEFAULT_NO_SHOW_RECHECKS,
            (
                timedelta(hours=1),
                *(timedelta(days=d) for d in (1, 2, 3, 4, 5, 6, 7, 10, 14, 21, 30)),
            ),
        ),
    ],
)
def test_schedule_parsing(text: Any, ages: tuple[timedelta, ...]) -> None:
    assert parse_recheck_ages(text) == ages


@pytest.mark.parametrize(
    "text",
    ["1w", "0h", "3", "d", "-1d", "4000d", "1.5d", "1h;1d", "7d..1d", "1d..48h", "1m..2000m"],
)
def test_a_bad_schedule_is_a_config_error_naming_the_key(text: str) -> None:
    with pytest.raises(ConfigError, match="no_show_rechecks"):
        parse_recheck_ages(text)


def test_windows_reach_back_to_every_due_recheck() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    last = now - timedelta(days=1)
    request = RunRequest(
        now=now,
        start_date=None,
        lookback_days=2,
        horizon_days=10,
        recheck_reach=recheck_reach(DEFAULT_AGES),
    )
    plan = plan_run(request, backfill_start=now - timedelta(days=400), last_success_at=last)
    assert plan.kind == "incremental"
    assert plan.range_start == last - timedelta(days=31)  # 30 d age + a day for long meetings
    longer = RunRequest(**{**request.__dict__, "lookback_days": 60})
    plan = plan_run(longer, backfill_start=now - timedelta(days=400), last_success_at=last)
    assert plan.range_start == last - timedelta(days=60)


def test_the_retired_no_show_lookback_days_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from calendly_elt.calendly.config import resolve_settings

    monkeypatch.setenv("SOURCES__CALENDLY__NO_SHOW_LOOKBACK_DAYS", "2")
    with pytest.raises(ConfigError, match="no_show_rechecks"):
        resolve_settings(access_token="pat")
    monkeypatch.delenv("SOURCES__CALENDLY__NO_SHOW_LOOKBACK_DAYS")
    monkeypatch.setenv("SOURCES__CALENDLY__NO_SHOW_RECHECKS", "2h, 5d")
    assert resolve_settings(access_token="pat").no_show_rechecks == (
        timedelta(hours=2),
        timedelta(days=5),
    )
