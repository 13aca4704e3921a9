"""A synthetic, deterministic Calendly organization built by replaying its history.

``generate_organization(seed, size, now)`` creates the people (owner, admins,
members, some who left), groups, event types (solo, round robin, collective,
group; active and inactive) and routing forms directly, then plans booking
"stories" (book, maybe reschedule once or twice, then maybe cancel by invitee
or host, or a no-show mark) and replays every step in time order through the
functions of ``mutations`` with the clock set to the step's moment. The store
therefore holds exactly what those operations produce, and its clock ends at
``now``.

Same (seed, size, now) -> identical store: all randomness comes from
``random.Random`` instances seeded from ``seed``.

Why this module is longer than most: the people, the event types, the story
plan and the replay draw from one seeded random stream in a fixed order, and
that order is what makes an organization reproducible for a seed (the tests'
expected values and the benchmarks' figures depend on it). Cutting it across
modules would make that order implicit; the functions stay small, the file
keeps the one stream in one place. Lateness draws live in ``lateness.py``.
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import random
import sys
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calendly_elt.simulator import mutations
from calendly_elt.simulator.lateness import mark_delay, queue_mark
from calendly_elt.simulator.store import (
    API_BASE,
    Resource,
    SimClock,
    Store,
    format_ts,
    uri_of,
    uuid_of,
)

logger = logging.getLogger(__name__)

DEFAULT_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 548  # ~18 months of past meetings
HORIZON_DAYS = 183  # ~6 months of booked future meetings


@dataclass(frozen=True)
class OrgSize:
    """Shape of one organization size."""

    users: int
    events: int
    groups: int


SIZES: dict[str, OrgSize] = {
    "tiny": OrgSize(users=6, events=50, groups=2),
    "small": OrgSize(users=12, events=1_000, groups=2),
    "medium": OrgSize(users=60, events=20_000, groups=4),
    "large": OrgSize(users=200, events=110_000, groups=6),
}

FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Diego", "Elena", "Farah", "Gustav", "Hana", "Ivan", "Julia",
    "Kofi", "Lena", "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Bauer", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kim", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Schmidt",
    "Tanaka", "Weber",
)  # fmt: skip
TIMEZONES = (
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
    "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo",
)  # fmt: skip
GROUP_NAMES = ("Sales", "Customer Success", "Support", "Partnerships", "Recruiting", "Finance")
SOLO_TYPE_NAMES = (
    "30 Minute Meeting", "Intro Call", "Product Demo", "Consultation", "Coffee Chat",
    "Quarterly Review", "Technical Deep Dive", "Onboarding Session",
)  # fmt: skip
COLORS = ("#0069ff", "#8247f5", "#e55cff", "#ff4f00", "#17e885", "#ffa600", "#1a1a1a")

# (utm_source, utm_medium, utm_campaign, utm_content, utm_term), weight
CAMPAIGNS: tuple[tuple[tuple[str | None, ...], int], ...] = (
    (("google", "cpc", "brand_search", "ad_a", "calendly alternative"), 8),
    (("google", "cpc", "competitor_terms", "ad_b", "scheduling software"), 4),
    (("linkedin", "paid_social", "q4_webinar", "carousel", None), 5),
    (("facebook", "paid_social", "retargeting", None, None), 3),
    (("newsletter", "email", "monthly_digest", "footer_link", None), 4),
    (("partner_site", "referral", "partner_program", None, None), 2),
    (("twitter", None, None, None, None), 1),
    ((None, "email", "spring_promo", None, None), 1),
)
UNTRACKED_SHARE = 1 / 3
CANCEL_REASONS_INVITEE = (
    "Something came up", "Schedule conflict", "No longer needed", "Found another solution", "",
)  # fmt: skip
CANCEL_REASONS_HOST = ("Host unavailable", "Sick leave", "Double booked", "Travel", "")
CUSTOM_QUESTIONS: tuple[Resource, ...] = (
    {"name": "Company name", "type": "string", "position": 0, "enabled": True,
     "required": True, "answer_choices": [], "include_other": False},
    {"name": "What would you like to discuss?", "type": "text", "position": 1,
     "enabled": True, "required": False, "answer_choices": [], "include_other": False},
    {"name": "Number of employees", "type": "single_select", "position": 2, "enabled": True,
     "required": False, "answer_choices": ["1-10", "11-50", "51-200", "200+"],
     "include_other": False},
    {"name": "Phone number", "type": "phone_number", "position": 3, "enabled": False,
     "required": False, "answer_choices": [], "include_other": False},
)  # fmt: skip
ANSWERS = {
    "Company name": ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries"),
    "What would you like to discuss?": ("Pricing", "Integrations", "A demo\nfor my team"),
    "Number of employees": ("1-10", "11-50", "51-200", "200+"),
}
ROUTING_QUESTIONS: tuple[Resource, ...] = (
    {"uuid": "1b0f6a4e-2f35-4c87-9a55-6f1d0d1c0a01", "name": "What is your industry?",
     "type": "select", "required": True,
     "answer_choices": ["IT & Software", "Financial Services", "Healthcare"]},
    {"uuid": "1b0f6a4e-2f35-4c87-9a55-6f1d0d1c0a02", "name": "Email", "type": "email",
     "required": True, "answer_choices": None},
)  # fmt: skip


# ---- the plan -------------------------------------------------------------------


@dataclass
class _EventTypePlan:
    uuid: str
    weight: float
    available_until: datetime | None
    is_group_kind: bool
    has_questions: bool
    split_name: bool


class _Story:
    """One booking's evolving state while its steps are replayed."""

    __slots__ = ("book_kwargs", "event", "event_type", "invitee", "slot", "submission")

    def __init__(self, event_type: str, book_kwargs: dict[str, Any]) -> None:
        self.event_type = event_type
        self.book_kwargs = book_kwargs
        self.invitee: str | None = None
        self.event: str | None = None
        self.slot: _Story | None = None
        self.submission: str | None = None


Step = tuple[datetime, int, str, _Story, Any]


class _Planner:
    """Plans stories and their timed steps from one seeded rng."""

    def __init__(self, rng: random.Random, now: datetime, types: list[_EventTypePlan]) -> None:
        self.rng = rng
        self.now = now
        self.types = types
        self.type_weights = [t.weight for t in types]
        self.steps: list[Step] = []
        self.seq = 0
        self.emails: list[tuple[str, str]] = []

    def add(self, moment: datetime, kind: str, story: _Story, arg: Any = None) -> None:
        self.steps.append((moment, self.seq, kind, story, arg))
        self.seq += 1

    # -- picking -------------------------------------------------------------

    def pick_type(self, start: datetime, booked_at: datetime) -> _EventTypePlan | None:
        for _ in range(10):
            plan = self.rng.choices(self.types, self.type_weights)[0]
            if plan.available_until is None or start < plan.available_until:
                return plan
        return None

    def pick_start(self) -> datetime:
        day = (
            self.now
            - timedelta(days=HISTORY_DAYS)
            + timedelta(days=self.rng.randrange(HISTORY_DAYS + HORIZON_DAYS))
        )
        hour = self.rng.randrange(13, 23)
        minute = self.rng.choice((0, 15, 30, 45))
        return day.replace(hour=hour, minute=minute, second=0, microsecond=0)

    def pick_lead(self) -> timedelta:
        roll = self.rng.random()
        if roll < 0.7:
            hours = 0.5 + self.rng.expovariate(1 / 120)
        elif roll < 0.95:
            hours = self.rng.uniform(120, 1440)
        else:
            hours = self.rng.uniform(1440, 6000)
        return timedelta(seconds=round(hours * 3600, 6))

    def pick_person(self) -> tuple[str, str]:
        if self.emails and self.rng.random() < 0.15:
            return self.rng.choice(self.emails)
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        number = len(self.emails)
        person = (sys.intern(f"{first.lower()}.{last.lower()}{number}@example.com"),
                  sys.intern(f"{first} {last}"))  # fmt: skip
        self.emails.append(person)
        return person

    def pick_tracking(self) -> Resource:
        if self.rng.random() < UNTRACKED_SHARE:
            return mutations.EMPTY_TRACKING
        values = self.rng.choices([c for c, _ in CAMPAIGNS], [w for _, w in CAMPAIGNS])[0]
        return _tracking_object(values, self.rng.random() < 0.1)

    def jitter(self, moment: datetime, max_hours: float) -> datetime:
        return moment + timedelta(seconds=round(self.rng.uniform(0, max_hours * 3600), 6))


_TRACKING_CACHE: dict[tuple[Any, ...], Resource] = {}


def _tracking_object(values: tuple[str | None, ...], salesforce: bool) -> Resource:
    """Shared (interned) tracking dicts: one per distinct combination."""
    key = (*values, salesforce)
    if key not in _TRACKING_CACHE:
        source, medium, campaign, content, term = values
        _TRACKING_CACHE[key] = {
            "utm_campaign": campaign,
            "utm_source": source,
            "utm_medium": medium,
            "utm_content": content,
            "utm_term": term,
            "salesforce_uuid": "0015g00000ABCDEFAA" if salesforce else None,
        }
    return _TRACKING_CACHE[key]


def _answers(rng: random.Random, has_questions: bool) -> list[Resource]:
    if not has_questions:
        return []
    answers = []
    for question in CUSTOM_QUESTIONS:
        if question["enabled"] and question["name"] in ANSWERS:
            if not question["required"] and rng.random() < 0.4:
                continue
            choice = rng.choice(ANSWERS[question["name"]])
            answers.append(
                {"question": question["name"], "answer": choice, "position": question["position"]}
            )
    return answers


def _booking_kwargs(planner: _Planner, plan: _EventTypePlan, start: datetime) -> dict[str, Any]:
    rng = planner.rng
    email, name = planner.pick_person()
    kwargs: dict[str, Any] = {
        "event_type_uuid": plan.uuid,
        "start_time": start,
        "email": email,
        "name": name,
        "tracking": planner.pick_tracking(),
        "questions_and_answers": _answers(rng, plan.has_questions),
        "timezone": rng.choice(TIMEZONES) if rng.random() < 0.97 else None,
        "split_name": plan.split_name,
    }
    if rng.random() < 0.2:
        kwargs["text_reminder_number"] = f"+1 404-555-{rng.randrange(10000):04d}"
    if rng.random() < 0.1:
        kwargs["scheduling_method"] = "instant_book"
    if rng.random() < 0.04:
        kwargs["payment"] = {
            "external_id": f"ch_{rng.getrandbits(64):016x}",
            "provider": rng.choice(("stripe", "paypal")),
            "amount": rng.choice((50.0, 120.0, 250.0)),
            "currency": rng.choice(("USD", "EUR", "GBP")),
            "terms": None,
            "successful": True,
        }
    return kwargs


# ---- planning stories ----------------------------------------------------------


def _plan_solo_story(planner: _Planner, routing_forms: list[str]) -> int:
    """Plan one one-on-one (or round-robin/collective) booking; returns events it creates."""
    rng, now = planner.rng, planner.now
    start = planner.pick_start()
    booked_at = start - planner.pick_lead()
    if booked_at > now:
        return 0
    plan = planner.pick_type(start, booked_at)
    if plan is None or plan.is_group_kind:
        return 0
    story = _Story(plan.uuid, _booking_kwargs(planner, plan, start))
    if routing_forms and rng.random() < 0.08:
        planner.add(booked_at - timedelta(minutes=rng.uniform(1, 20)), "submit", story,
                    rng.choice(routing_forms))  # fmt: skip
    elif routing_forms and rng.random() < 0.03:  # a visitor the form did not route to a booking
        planner.add(booked_at - timedelta(days=rng.uniform(1, 30)), "submit_unrouted", story,
                    rng.choice(routing_forms))  # fmt: skip
    planner.add(booked_at, "book", story)
    last_change, current_start, events = booked_at, start, 1
    for _ in range(_reschedule_count(rng)):
        moment = planner.jitter(last_change, (current_start - last_change).total_seconds() / 7200)
        if moment >= now or moment >= current_start:
            break
        new_start = _moved_start(rng, current_start, moment)
        if plan.available_until is not None and new_start >= plan.available_until:
            break
        planner.add(moment, "reschedule", story, new_start)
        last_change, current_start, events = moment, new_start, events + 1
    _plan_fate(planner, story, last_change, current_start)
    return events


def _reschedule_count(rng: random.Random) -> int:
    roll = rng.random()
    return 2 if roll < 0.04 else 1 if roll < 0.13 else 0


def _moved_start(rng: random.Random, old_start: datetime, moment: datetime) -> datetime:
    new_start = old_start + timedelta(days=rng.randrange(-3, 15))
    earliest = moment + timedelta(hours=2)
    while new_start <= earliest:
        new_start += timedelta(days=1)
    return new_start


def _plan_fate(planner: _Planner, story: _Story, last_change: datetime, start: datetime) -> None:
    """Cancellation by invitee or host, a no-show mark (and maybe unmark), or nothing."""
    rng, now = planner.rng, planner.now
    roll = rng.random()
    if roll < 0.15:
        cancel_at = _cancel_moment(rng, last_change, start)
        if cancel_at is not None and cancel_at <= now:
            kind = "cancel_invitee" if roll < 0.10 else "cancel_host"
            planner.add(cancel_at, kind, story)
            return
    if start < now and rng.random() < 0.09:
        marked_at = start + timedelta(minutes=30) + mark_delay(rng)  # after now: queued
        planner.add(marked_at, "no_show", story)
        if marked_at <= now and rng.random() < 0.1:  # an unmark after now is dropped
            planner.add(planner.jitter(marked_at, 24), "unmark", story)


def _cancel_moment(rng: random.Random, after: datetime, start: datetime) -> datetime | None:
    """When a cancellation happens: ~30% late (< 24 h before), a few exactly 24 h before."""
    roll = rng.random()
    if roll < 0.05:
        moment = start - timedelta(hours=24)
    elif roll < 0.35:
        moment = start - timedelta(seconds=round(rng.uniform(600, 24 * 3600 - 1), 6))
    else:
        span = (start - after).total_seconds()
        moment = after + timedelta(seconds=round(rng.uniform(0, span), 6))
    return moment if after < moment < start else None


def _plan_group_slot(planner: _Planner, group_types: list[_EventTypePlan]) -> int:
    """Plan a group event (webinar) with several invitees, some canceling individually."""
    rng, now = planner.rng, planner.now
    plan = rng.choice(group_types)
    start = planner.pick_start()
    if plan.available_until is not None and start >= plan.available_until:
        return 0
    first_booking = start - timedelta(days=rng.uniform(3, 30))
    if first_booking > now:
        return 0
    slot = _Story(plan.uuid, {})
    participants = rng.randrange(2, 7)
    moments = sorted(
        first_booking + (start - first_booking) * rng.uniform(0, 0.95) for _ in range(participants)
    )
    moments[0] = first_booking
    host_cancel = None
    if rng.random() < 0.04:
        host_cancel = _cancel_moment(rng, moments[-1], start)
    for moment in moments:
        if moment > now or (host_cancel is not None and moment >= host_cancel):
            break
        story = _Story(plan.uuid, _booking_kwargs(planner, plan, start))
        story.slot = slot
        planner.add(moment, "join", story)
        if host_cancel is None:
            _plan_fate_in_group(planner, story, moment, start)
    if host_cancel is not None and host_cancel <= now:
        planner.add(host_cancel, "cancel_slot", slot)
    return 1


def _plan_fate_in_group(
    planner: _Planner, story: _Story, joined: datetime, start: datetime
) -> None:
    rng, now = planner.rng, planner.now
    if rng.random() < 0.15:
        cancel_at = _cancel_moment(rng, joined, start)
        if cancel_at is not None and cancel_at <= now:
            planner.add(cancel_at, "cancel_invitee", story)
            return
    if start < now and rng.random() < 0.12:
        planner.add(start + timedelta(hours=1) + mark_delay(rng), "no_show", story)


# ---- replaying -------------------------------------------------------------------


def _run_book(store: Store, story: _Story, arg: Any) -> None:
    kwargs = dict(story.book_kwargs)
    if story.submission:
        kwargs["routing_form_submission"] = story.submission
    invitee = mutations.book(store, **kwargs)
    story.invitee, story.event = uuid_of(invitee["uri"]), uuid_of(invitee["event"])


def _run_join(store: Store, story: _Story, arg: Any) -> None:
    slot = story.slot
    assert slot is not None
    event_uuid = slot.event
    if event_uuid is not None:
        event = store.events[event_uuid]
        counter = event["invitees_counter"]
        if event["status"] != "active" or counter["active"] >= counter["limit"]:
            return
    invitee = mutations.book(store, **story.book_kwargs, event_uuid=event_uuid)
    story.invitee, story.event = uuid_of(invitee["uri"]), uuid_of(invitee["event"])
    slot.event = story.event


def _run_reschedule(store: Store, story: _Story, new_start: Any) -> None:
    assert story.invitee is not None
    invitee = mutations.reschedule(store, story.invitee, new_start_time=new_start)
    story.invitee, story.event = uuid_of(invitee["uri"]), uuid_of(invitee["event"])


def _run_cancel_invitee(store: Store, story: _Story, arg: Any) -> None:
    if story.invitee is None or store.invitees[story.invitee]["status"] != "active":
        return
    reason = store.rng.choice(CANCEL_REASONS_INVITEE)
    mutations.cancel_invitee(store, story.invitee, reason=reason)


def _run_cancel_host(store: Store, story: _Story, arg: Any) -> None:
    assert story.event is not None
    reason = store.rng.choice(CANCEL_REASONS_HOST)
    mutations.cancel_event(store, story.event, reason=reason)


def _run_no_show(store: Store, story: _Story, arg: Any) -> None:
    if story.invitee is None or store.invitees[story.invitee]["status"] != "active":
        return
    mutations.mark_no_show(store, story.invitee)


def _run_unmark(store: Store, story: _Story, arg: Any) -> None:
    no_show = store.no_show_of_invitee.get(story.invitee or "")
    if no_show:
        mutations.unmark_no_show(store, no_show)


def _routing_answers(store: Store, email: str) -> list[Resource]:
    return [
        {"question_uuid": ROUTING_QUESTIONS[0]["uuid"], "question": ROUTING_QUESTIONS[0]["name"],
         "answer": store.rng.choice(ROUTING_QUESTIONS[0]["answer_choices"])},
        {"question_uuid": ROUTING_QUESTIONS[1]["uuid"], "question": "Email", "answer": email},
    ]  # fmt: skip


def _run_submit(store: Store, story: _Story, form_uuid: Any) -> None:
    result = {"type": "event_type", "value": uri_of("event_types", story.event_type)}
    submission = mutations.submit_routing_form(
        store, form_uuid, questions_and_answers=_routing_answers(store, story.book_kwargs["email"]),
        tracking=story.book_kwargs["tracking"], result=result,
    )  # fmt: skip
    story.submission = uuid_of(submission["uri"])


def _run_submit_unrouted(store: Store, story: _Story, form_uuid: Any) -> None:
    result: Resource = (
        {"type": "custom_message",
         "value": {"headline": "Thank you for your interest",
                   "body": "We are not able to offer any meetings at this time."}}
        if store.rng.random() < 0.5
        else {"type": "external_url", "value": "https://example.com/contact"}
    )  # fmt: skip
    mutations.submit_routing_form(
        store, form_uuid, questions_and_answers=_routing_answers(store, story.book_kwargs["email"]),
        tracking=story.book_kwargs["tracking"], result=result,
    )  # fmt: skip


def _run_cancel_slot(store: Store, slot: _Story, arg: Any) -> None:
    if slot.event is not None and store.events[slot.event]["status"] == "active":
        mutations.cancel_event(store, slot.event, reason=store.rng.choice(CANCEL_REASONS_HOST))


_RUNNERS: dict[str, Callable[[Store, _Story, Any], None]] = {
    "book": _run_book,
    "join": _run_join,
    "reschedule": _run_reschedule,
    "cancel_invitee": _run_cancel_invitee,
    "cancel_host": _run_cancel_host,
    "cancel_slot": _run_cancel_slot,
    "no_show": _run_no_show,
    "unmark": _run_unmark,
    "submit": _run_submit,
    "submit_unrouted": _run_submit_unrouted,
}


def _replay(store: Store, steps: list[Step], now: datetime) -> None:
    heapq.heapify(steps)
    while steps:
        moment, _, kind, story, arg = heapq.heappop(steps)
        if moment > now:  # a no-show mark made after now waits in the store
            if kind == "no_show" and story.invitee is not None:
                queue_mark(store, moment, story.invitee)
            continue
        store.clock.set(moment)
        _RUNNERS[kind](store, story, arg)


# ---- people, types, forms --------------------------------------------------------


def _det_uuid(rng: random.Random) -> str:
    return str(uuid_module.UUID(int=rng.getrandbits(128), version=4))


def _create_people(store: Store, rng: random.Random, size: OrgSize, origin: datetime) -> None:
    org_uuid = _det_uuid(rng)
    org_uri = uri_of("organizations", org_uuid)
    created = format_ts(origin - timedelta(days=400))
    store.organization = {"uri": org_uri, "plan": "teams", "stage": "paid",
                          "created_at": created, "updated_at": created}  # fmt: skip
    for index in range(size.users):
        _create_user(store, rng, index, size, org_uri, origin)


def _create_user(
    store: Store, rng: random.Random, index: int, size: OrgSize, org_uri: str, origin: datetime
) -> None:
    uuid = _det_uuid(rng)
    first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[(index * 7) % len(LAST_NAMES)]
    slug = f"{first.lower()}-{last.lower()}-{index}"
    created = format_ts(origin - timedelta(days=rng.uniform(30, 380)))
    has_left = index >= 2 and index % 8 == 5
    user = {
        "uri": uri_of("users", uuid),
        "name": f"{first} {last}",
        "slug": slug,
        "email": f"{slug}@acme.example",
        "scheduling_url": f"https://calendly.com/{slug}",
        "timezone": rng.choice(TIMEZONES),
        "avatar_url": None if index % 3 else f"https://cdn.example/avatars/{slug}.png",
        "created_at": created,
        "updated_at": created,
        "current_organization": (uri_of("organizations", _det_uuid(rng)) if has_left else org_uri),
    }
    store.users[uuid] = user
    if has_left:
        return
    role = "owner" if index == 0 else "admin" if index % 6 == 1 else "user"
    store.roles[uuid] = role
    membership_uuid = _det_uuid(rng)
    store.organization_memberships[membership_uuid] = {
        "uri": uri_of("organization_memberships", membership_uuid),
        "role": role,
        "user": {k: user[k] for k in ("uri", "name", "slug", "email", "scheduling_url",
                                       "timezone", "avatar_url", "created_at", "updated_at")},
        "organization": org_uri,
        "updated_at": created,
        "created_at": created,
    }  # fmt: skip


def _create_groups(store: Store, rng: random.Random, size: OrgSize, origin: datetime) -> None:
    members = [u for u in store.users if u in store.roles]
    for index in range(size.groups):
        uuid = _det_uuid(rng)
        chosen = sorted(rng.sample(members, k=max(2, len(members) // size.groups)),
                        key=members.index)  # fmt: skip
        created = format_ts(origin - timedelta(days=rng.uniform(10, 300)))
        store.groups[uuid] = {
            "uri": uri_of("groups", uuid),
            "name": GROUP_NAMES[index % len(GROUP_NAMES)],
            "organization": store.organization["uri"],
            "member_count": len(chosen),
            "created_at": created,
            "updated_at": created,
        }
        store.group_members[uuid] = chosen


def _event_type(
    store: Store, rng: random.Random, *, name: str, owner: Resource, profile_type: str,
    kind: str, pooling: str | None, origin: datetime,
) -> Resource:  # fmt: skip
    uuid = _det_uuid(rng)
    slug = name.lower().replace(" ", "-")
    created = format_ts(origin - timedelta(days=rng.uniform(1, 10)))
    description = {None: "One-on-One", "round_robin": "Round Robin", "collective": "Collective"}
    resource = {
        "uri": uri_of("event_types", uuid),
        "name": name,
        "active": True,
        "booking_method": "instant",
        "slug": slug,
        "scheduling_url": f"https://calendly.com/{owner['slug']}/{slug}",
        "duration": rng.choice((15, 30, 30, 45, 60)),
        "kind": kind,
        "pooling_type": pooling,
        "type": "StandardEventType",
        "color": rng.choice(COLORS),
        "created_at": created,
        "updated_at": created,
        "internal_note": None,
        "description_plain": f"{name} with {owner['name']}",
        "description_html": f"<p>{name} with {owner['name']}</p>",
        "profile": {"type": profile_type, "name": owner["name"], "owner": owner["uri"]},
        "secret": rng.random() < 0.1,
        "custom_questions": [],
        "deleted_at": None,
        "kind_description": "Group" if kind == "group" else description[pooling],
        "admin_managed": profile_type == "Team",
    }
    store.event_types[uuid] = resource
    return resource


def _create_event_types(
    store: Store, rng: random.Random, origin: datetime, now: datetime
) -> list[_EventTypePlan]:
    location_kinds: list[str | None] = [*mutations.LOCATION_KINDS, None]
    plans: list[_EventTypePlan] = []

    def register(resource: Resource, hosts: list[str], weight: float, limit: int = 1,
                 until: datetime | None = None) -> None:  # fmt: skip
        uuid = uuid_of(resource["uri"])
        kind_index = len(plans) % len(location_kinds)
        store.event_type_settings[uuid] = {
            "hosts": hosts, "invitee_limit": limit, "location_kind": location_kinds[kind_index],
        }  # fmt: skip
        questions = rng.random() < 0.5
        if questions:
            resource["custom_questions"] = [dict(q) for q in CUSTOM_QUESTIONS]
        if until is None and rng.random() < 0.1:
            until = now - timedelta(days=rng.uniform(30, 300))
        plans.append(_EventTypePlan(uuid, weight, until, limit > 1, questions, rng.random() < 0.3))

    for user_uuid, user in store.users.items():
        left_at = None if user_uuid in store.roles else now - timedelta(days=rng.uniform(60, 300))
        for name in rng.sample(SOLO_TYPE_NAMES, k=1 if left_at else rng.choice((1, 2, 2, 3))):
            resource = _event_type(store, rng, name=name, owner=user, profile_type="User",
                                   kind="solo", pooling=None, origin=origin)  # fmt: skip
            register(resource, [user_uuid], rng.uniform(0.5, 2.0), until=left_at)
    for group_uuid, group in store.groups.items():
        hosts = store.group_members[group_uuid]
        owner = store.users[hosts[0]]
        for suffix, kind, pooling in (("Discovery Call", "solo", "round_robin"),
                                      ("Panel Interview", "solo", "collective"),
                                      ("Webinar", "group", None)):  # fmt: skip
            resource = _event_type(store, rng, name=f"{group['name']} {suffix}", owner=owner,
                                   profile_type="Team", kind=kind, pooling=pooling,
                                   origin=origin)  # fmt: skip
            limit = 8 if kind == "group" else 1
            pool = hosts[:3] if pooling == "collective" else list(hosts)
            register(resource, pool, 3.0 if pooling == "round_robin" else 1.0, limit)
    return plans


def _create_routing_forms(store: Store, rng: random.Random, origin: datetime) -> list[str]:
    published = []
    for name, status in (("Inbound Lead Routing", "published"), ("Partner Intake", "draft")):
        uuid = _det_uuid(rng)
        created = format_ts(origin - timedelta(days=rng.uniform(1, 20)))
        store.routing_forms[uuid] = {
            "uri": uri_of("routing_forms", uuid),
            "organization": store.organization["uri"],
            "name": name,
            "status": status,
            "questions": [dict(q) for q in ROUTING_QUESTIONS],
            "created_at": created,
            "updated_at": created,
        }
        if status == "published":
            published.append(uuid)
    return published


def _create_tokens(store: Store, rng: random.Random) -> None:
    owner = next(u for u, role in store.roles.items() if role == "owner")
    hosts = {uuid_of(m["user"]) for e in store.events.values() for m in e["event_memberships"]}
    member = next(u for u, role in store.roles.items() if role == "user" and u in hosts)
    store.admin_token = f"sim_pat_admin_{rng.getrandbits(128):032x}"
    store.member_token = f"sim_pat_member_{rng.getrandbits(128):032x}"
    store.personal_access_tokens[store.admin_token] = owner
    store.personal_access_tokens[store.member_token] = member


# ---- finishing touches -------------------------------------------------------------


def _finish_event_types(store: Store, plans: list[_EventTypePlan], rng: random.Random) -> None:
    """Deactivate the types whose time is over; rename one (marts use the current name)."""
    for plan in plans:
        if plan.available_until is not None:
            resource = store.event_types[plan.uuid]
            resource["active"] = False
            resource["updated_at"] = format_ts(plan.available_until)
    active = [p for p in plans if p.available_until is None and not p.is_group_kind]
    if active:
        renamed = store.event_types[active[0].uuid]
        renamed["name"] = f"{renamed['name']} (new format)"
        renamed["updated_at"] = format_ts(store.clock.now())


def _add_meeting_notes(store: Store, rng: random.Random) -> None:
    for event in store.events.values():
        if rng.random() < 0.05:
            event["meeting_notes_plain"] = "Agenda: intro, goals, next steps"
            event["meeting_notes_html"] = "<p>Agenda: intro, goals, next steps</p>"
            event["event_guests"] = [{"email": "colleague@example.com",
                                      "created_at": event["created_at"],
                                      "updated_at": event["created_at"]}]  # fmt: skip
        elif rng.random() < 0.05:
            event["calendar_event"] = None


# ---- public ------------------------------------------------------------------------


def generate_organization(seed: int = 7, size: str = "small", now: datetime | None = None) -> Store:
    """Build a deterministic organization of ``size`` whose history ends at ``now``.

    Args:
        seed: Seed of every random choice (same seed -> identical store).
        size: A key of ``SIZES`` (``tiny``, ``small``, ``medium``, ``large``).
        now: The instant the history ends at (default ``DEFAULT_NOW``).

    Returns:
        The populated store, its frozen clock at ``now``.
    """
    if size not in SIZES:
        raise ValueError(f"unknown organization size {size!r}; choose one of {sorted(SIZES)}")
    now = (now or DEFAULT_NOW).astimezone(UTC)
    shape = SIZES[size]
    rng = random.Random(seed)
    origin = now - timedelta(days=HISTORY_DAYS + 300)  # before the earliest step (lead + form)
    store = Store(clock=SimClock(origin))
    store.rng = random.Random(f"calendly-sim-ids-{seed}")
    _create_people(store, rng, shape, origin)
    _create_groups(store, rng, shape, origin)
    plans = _create_event_types(store, rng, origin, now)
    forms = _create_routing_forms(store, rng, origin)
    planner = _Planner(rng, now, plans)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of acyclic dicts: cyclic GC passes only cost time
    try:
        _plan_events(planner, shape, plans, forms)
        with store.bulk_loading():
            _replay(store, planner.steps, now)
    finally:
        if gc_was_enabled:
            gc.enable()
    store.clock.set(now)
    _finish_event_types(store, plans, rng)
    _add_meeting_notes(store, rng)
    _create_tokens(store, rng)
    logger.info("generated %s organization (seed %d): %d events, %d invitees", size, seed,
                len(store.events), len(store.invitees))  # fmt: skip
    return store


def _plan_events(
    planner: _Planner, shape: OrgSize, plans: list[_EventTypePlan], forms: list[str]
) -> None:
    group_types = [p for p in plans if p.is_group_kind]
    planned = 0
    while planned < shape.events:
        if group_types and planner.rng.random() < 0.06:
            planned += _plan_group_slot(planner, group_types)
        else:
            planned += _plan_solo_story(planner, forms)


def dump_store(store: Store) -> str:
    """A canonical JSON dump of every served collection (for determinism checks)."""
    state = {
        "organization": store.organization,
        "users": store.users,
        "organization_memberships": store.organization_memberships,
        "groups": store.groups,
        "event_types": store.event_types,
        "events": store.events,
        "invitees": store.invitees,
        "no_shows": store.no_shows,
        "pending_marks": store.pending_marks,
        "routing_forms": store.routing_forms,
        "routing_form_submissions": store.routing_form_submissions,
        "tokens": [store.admin_token, store.member_token],
        "roles": store.roles,
        "now": format_ts(store.clock.now()),
        "api": API_BASE,
    }
    return json.dumps(state, sort_keys=True)
