"""One seeded day of activity in a simulated organization.

``simulate_day(store, seed)`` plans a day of realistic changes starting at the
store clock's now - new bookings (a few far ahead), group-event joins, invitee
and host cancellations, reschedules, no-show marks on meetings that just
happened and the odd unmark - runs them through ``mutations`` in time order,
and leaves the clock one day later. Volumes scale with the organization: about
1-2 % of its events are touched in a day.

No-show marks come late (``lateness``): each of the day's meetings that gets a
mark has it queued in the store with a seeded delay (most within a day, a
tail to four weeks), and the day makes every queued mark that falls due in
it. A few cancellations and reschedules hit meetings far ahead (beyond 30
days, some beyond 365). The returned summary (``day_report``) lists every
change, with the marks by lateness.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from calendly_elt.simulator import mutations
from calendly_elt.simulator.day_report import (
    BEYOND_HORIZON,
    ActivitySummary,
    DayChange,
    how_far_ahead,
)
from calendly_elt.simulator.generator import (
    CAMPAIGNS,
    CANCEL_REASONS_HOST,
    CANCEL_REASONS_INVITEE,
    FIRST_NAMES,
    LAST_NAMES,
    TIMEZONES,
    UNTRACKED_SHARE,
)
from calendly_elt.simulator.lateness import (
    DAY,
    bucket_of_mark,
    due_marks,
    mark_delay,
    queue_mark,
)
from calendly_elt.simulator.store import SimulatorError, Store, format_ts, parse_ts, uuid_of

logger = logging.getLogger(__name__)

BOOKINGS_PER_EVENT_PER_DAY = 0.006  # medium (20k events): ~120 new bookings a day
MARK_SHARE = 0.09  # of active invitees of a meeting that happened


Action = tuple[datetime, int, str, str]  # (moment, seq, kind, target uuid or "")


class _DayPlanner:
    def __init__(self, store: Store, rng: random.Random, start: datetime) -> None:
        self.store, self.rng, self.start = store, rng, start
        self.actions: list[Action] = []

    def at_random_time(self, kind: str, target: str = "", earliest: datetime | None = None) -> None:
        low = max(earliest or self.start, self.start)
        span = (self.start + DAY - low).total_seconds()
        if span <= 0:
            return
        moment = low + timedelta(seconds=round(self.rng.uniform(0, span), 6))
        self.actions.append((moment, len(self.actions), kind, target))


def _future_active_invitees(store: Store, start: datetime) -> list[tuple[str, str]]:
    """(start time, uuid) of active invitees of meetings after the whole day (safe to change)."""
    lower = format_ts(start + DAY + timedelta(hours=1))
    return [
        (event["start_time"], uuid_of(invitee["uri"]))
        for event in store.events_between(lower, None)
        if event["status"] == "active"
        for invitee in store.invitees_of(uuid_of(event["uri"]))
        if invitee["status"] == "active"
    ]


def _plan(store: Store, rng: random.Random, start: datetime, bookings: int) -> list[Action]:
    planner = _DayPlanner(store, rng, start)
    for _ in range(bookings):
        planner.at_random_time("book")
    for _ in range(max(1, bookings // 20)):
        planner.at_random_time("join")
    future = _future_active_invitees(store, start)
    picks = [u for _, u in rng.sample(future, k=min(len(future), round(bookings * 0.3) + 3))]
    far = [u for s, u in future if s > format_ts(start + 30 * DAY)]
    picks += rng.sample(far, k=min(len(far), 2 + bookings // 40))
    for index, invitee_uuid in enumerate(picks):
        kind = ("cancel_invitee", "reschedule", "reschedule", "cancel_host")[index % 4]
        planner.at_random_time(kind, invitee_uuid)
    for _ in range(1 + bookings // 60):  # targets chosen late: the day's own far bookings count
        planner.at_random_time("change_beyond_horizon", earliest=start + DAY / 2)
    _plan_no_shows(planner, store, rng, start)
    return sorted(planner.actions)


def _plan_no_shows(planner: _DayPlanner, store: Store, rng: random.Random, start: datetime) -> None:
    """Queue late marks for the day's meetings, make the queued ones due; a few unmarks."""
    for event in store.events_between(format_ts(start), format_ts(start + DAY)):
        started = parse_ts(event["start_time"])
        if started >= start + DAY:
            continue
        for invitee in store.invitees_of(uuid_of(event["uri"])):
            unmarked = invitee["status"] == "active" and invitee["no_show"] is None
            if unmarked and rng.random() < MARK_SHARE:
                due = started + timedelta(minutes=30) + mark_delay(rng)
                queue_mark(store, due, uuid_of(invitee["uri"]))
    for due, invitee_uuid in due_marks(store, start + DAY):
        planner.actions.append((max(due, start), len(planner.actions), "mark", invitee_uuid))
    recent = format_ts(start - 2 * DAY)
    for no_show_uuid, no_show in sorted(store.no_shows.items()):
        if no_show["created_at"] >= recent and rng.random() < 0.1:
            planner.at_random_time("unmark", no_show_uuid)


# ---- running ----------------------------------------------------------------------


def _person(rng: random.Random, seed: int, number: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{first.lower()}.{last.lower()}.d{seed}n{number}@example.com", f"{first} {last}"


def _tracking(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < UNTRACKED_SHARE:
        return None
    values = rng.choices([c for c, _ in CAMPAIGNS], [w for _, w in CAMPAIGNS])[0]
    return dict(zip(("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"),
                    values, strict=True))  # fmt: skip


def _bookable_types(store: Store, group: bool) -> list[str]:
    return sorted(
        uuid
        for uuid, event_type in store.event_types.items()
        if event_type["active"] and (event_type["kind"] == "group") == group
    )


class _DayRunner:
    def __init__(self, store: Store, rng: random.Random, seed: int) -> None:
        self.store, self.rng, self.seed = store, rng, seed
        self.summary = ActivitySummary()
        self.touched: set[str] = set()
        self.solo_types = _bookable_types(store, group=False)
        self.group_types = _bookable_types(store, group=True)

    def _start_time(self, far: bool) -> datetime:
        now = self.store.clock.now()
        days = self.rng.uniform(400, 1100) if far else 0.2 + self.rng.expovariate(1 / 8)
        start = now + timedelta(days=days, hours=1)
        return start.replace(minute=self.rng.choice((0, 15, 30, 45)), second=0, microsecond=0)

    def book(self, _: str) -> None:
        if not self.solo_types:
            return
        far = self.rng.random() < 0.03
        email, name = _person(self.rng, self.seed, self.summary.bookings)
        invitee = mutations.book(
            self.store, event_type_uuid=self.rng.choice(self.solo_types),
            start_time=self._start_time(far), email=email, name=name,
            tracking=_tracking(self.rng), timezone=self.rng.choice(TIMEZONES),
        )  # fmt: skip
        self.summary.bookings += 1
        self.summary.far_future_bookings += far
        self._changed("book", invitee)

    def join(self, _: str) -> None:
        """Join an open future group event, or open a new one."""
        open_events = [
            event for event in self.store.events_between(format_ts(self.store.clock.now()), None)
            if event["status"] == "active"
            and uuid_of(event["event_type"]) in self.group_types
            and event["invitees_counter"]["active"] < event["invitees_counter"]["limit"]
        ]  # fmt: skip
        if not open_events and not self.group_types:
            return
        email, name = _person(self.rng, self.seed, 10_000 + self.summary.group_joins)
        event_uuid: str | None = None
        if open_events:
            event = self.rng.choice(open_events)
            type_uuid, start = uuid_of(event["event_type"]), parse_ts(event["start_time"])
            event_uuid = uuid_of(event["uri"])
        else:
            type_uuid, start = self.rng.choice(self.group_types), self._start_time(False)
        invitee = mutations.book(
            self.store, event_type_uuid=type_uuid, start_time=start, email=email, name=name,
            tracking=_tracking(self.rng), event_uuid=event_uuid,
        )  # fmt: skip
        self.summary.group_joins += 1
        self._changed("join", invitee)

    def _changed(self, kind: str, invitee: dict[str, Any], **details: Any) -> None:
        event_uuid = uuid_of(invitee["event"])
        self.summary.record(DayChange(kind, event_uuid, uuid_of(invitee["uri"]), **details))
        self.touched.add(event_uuid)

    def _ahead(self, invitee_uuid: str) -> str:
        event = self.store.events[uuid_of(self.store.invitees[invitee_uuid]["event"])]
        return how_far_ahead(self.store.clock.now(), parse_ts(event["start_time"]))

    def cancel_invitee(self, invitee_uuid: str) -> None:
        ahead = self._ahead(invitee_uuid)
        invitee = mutations.cancel_invitee(
            self.store, invitee_uuid, reason=self.rng.choice(CANCEL_REASONS_INVITEE)
        )
        self.summary.invitee_cancels += 1
        self._changed("cancel_invitee", invitee, ahead=ahead)

    def cancel_host(self, invitee_uuid: str) -> None:
        ahead, invitee = self._ahead(invitee_uuid), self.store.invitees[invitee_uuid]
        mutations.cancel_event(self.store, uuid_of(invitee["event"]),
                               reason=self.rng.choice(CANCEL_REASONS_HOST))  # fmt: skip
        self.summary.host_cancels += 1
        self._changed("cancel_host", {"event": invitee["event"], "uri": ""}, ahead=ahead)

    def reschedule(self, invitee_uuid: str) -> None:
        ahead = self._ahead(invitee_uuid)
        new = mutations.reschedule(self.store, invitee_uuid,
                                   new_start_time=self._start_time(False))  # fmt: skip
        self.summary.reschedules += 1
        self.touched.add(uuid_of(new["event"]))
        self._changed("reschedule", self.store.invitees[invitee_uuid], ahead=ahead,
                      new_event_uuid=uuid_of(new["event"]))  # fmt: skip

    def change_beyond_horizon(self, _: str) -> None:
        """Cancel or reschedule a meeting booked more than 365 days ahead, if there is one."""
        lower = format_ts(self.store.clock.now() + BEYOND_HORIZON)
        candidates = [
            uuid_of(invitee["uri"])
            for event in self.store.events_between(lower, None)
            if event["status"] == "active"
            for invitee in self.store.invitees_of(uuid_of(event["uri"]))
            if invitee["status"] == "active"
        ]
        if candidates:
            target = self.rng.choice(candidates)
            (self.cancel_invitee if self.rng.random() < 0.5 else self.reschedule)(target)

    def mark(self, invitee_uuid: str) -> None:
        mutations.mark_no_show(self.store, invitee_uuid)
        self.summary.no_shows_marked += 1
        invitee = self.store.invitees[invitee_uuid]
        self._changed("mark", invitee, lateness=bucket_of_mark(self.store, invitee))

    def unmark(self, no_show_uuid: str) -> None:
        invitee_uuid = uuid_of(self.store.no_shows[no_show_uuid]["invitee"])
        mutations.unmark_no_show(self.store, no_show_uuid)
        self.summary.no_shows_unmarked += 1
        self._changed("unmark", self.store.invitees[invitee_uuid])

    def run(self, kind: str, target: str) -> None:
        action: Callable[[str], None] = getattr(self, kind)
        try:
            action(target)
        except (SimulatorError, KeyError) as error:
            # an earlier change of the day made this one moot (already canceled, gone...)
            logger.debug("activity %s on %s skipped: %s", kind, target, error)


def simulate_day(store: Store, seed: int, *, bookings: int | None = None) -> ActivitySummary:
    """Play one seeded day of activity and advance the clock by one day.

    Args:
        store: The organization (its clock must be frozen, not ticking).
        seed: Seed of the day's choices (same store + seed -> same day).
        bookings: New bookings in the day (default: scaled to the organization).

    Returns:
        Counts of each kind of change made.
    """
    rng = random.Random(f"calendly-sim-day-{seed}")
    start = store.clock.now()
    count = (
        bookings
        if bookings is not None
        else max(3, round(len(store.events) * BOOKINGS_PER_EVENT_PER_DAY))
    )
    with store.lock:
        actions = _plan(store, rng, start, count)
        runner = _DayRunner(store, rng, seed)
        for moment, _, kind, target in actions:
            store.clock.set(moment)
            runner.run(kind, target)
        store.clock.set(start + DAY)
    runner.summary.touched_events = len(runner.touched)
    runner.summary.pending_marks = len(store.pending_marks)
    logger.info("simulated a day: %s", runner.summary.as_dict())
    return runner.summary
