"""A hand-built tiny organization whose every booking is a named edge case.

``build_tiny_organization(now)`` replays a fixed script of mutations (no
randomness in the story; uuids come from a fixed seed) so that the expected
marts can be counted by hand: see ``tests/expected_tiny.py``. Each booking has
its own readable email. Times below are UTC; ``now`` is both the end of the
history and the ``as_of`` the expected values are written for.

Bookings (B-numbers are used in the expected values):

- B1  resched-twice@example.com   Intro Call, rescheduled twice (the second time
                                  through a Facebook-tracked link, under the email
                                  resched-twice-new@), then completed: first-touch
                                  UTM stays google, the email is the final one.
- B2  resched-cancel@example.com  Demo, rescheduled once, then canceled by the invitee.
- B3  resched-noshow@example.com  Intro Call, rescheduled once, then marked no-show.
- B4  host-cancel@example.com     Demo, canceled by the host (220 h before start).
- B5  invitee-cancel@example.com  Intro Call, canceled by the invitee (240 h before).
- B6  cancel-24h@example.com      Demo, canceled exactly 24 h before start (not late).
- B7  cancel-under-24h@example.com Intro Call, canceled 23 h 59 min before start (late).
- B8..B10 group-a/b/c@example.com three invitees of one Product Webinar (group
  event); group-b cancels individually, the event stays active.
- B11 untracked@example.com       Intro Call, all-null tracking, no-show marked
  then unmarked (so: completed).
- B12 at-asof@example.com         Demo starting exactly at ``now`` (completed).
- B13 resched-lost@example.com    Intro Call rescheduled with a new email
  (resched-lost-new@example.com) whose data was then deleted (data-compliance
  deletion): the new invitee is not loaded, so the booking is upcoming.
- B14 future-booking@example.com  Demo three weeks after ``now`` (upcoming), the
  only booking of the facebook campaign (its show rate is null).
- B15 partial-utm@example.com     Demo with only utm_source set ((none) medium/campaign).
- B16 legacy-type@example.com     Legacy Consultation, whose event type was deleted
  afterwards (its name falls back to the event's name).

Routing form "Lead Form" (a `select` question "Team size?" and an email
question): S1 (1-10) led to B3, S2 (11-50) to B5, S3 (1-10) to B12, S4 (11-50)
to no booking. B3's reschedule copies the link onto its new invitee.

Hosts' time zones: Olivia Europe/Berlin (UTC+1 all winter), Max
America/New_York (UTC-5): popular times are counted in those zones.

At ``now`` the "Intro Call" type is renamed "Intro Call (30 min)": the marts
report the event type's current name, not the name copied onto old events.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from calendly_elt.simulator import mutations
from calendly_elt.simulator.generator import DEFAULT_NOW
from calendly_elt.simulator.store import Resource, SimClock, Store, format_ts, uri_of, uuid_of

GOOGLE = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand_search"}
LINKEDIN = {"utm_source": "linkedin", "utm_medium": "paid_social", "utm_campaign": "q4_webinar"}
FACEBOOK = {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "retargeting"}
NEWSLETTER_ONLY = {"utm_source": "newsletter"}

ORG_UUID = "0a000000-0000-4000-8000-000000000001"
OLIVIA = "1a000000-0000-4000-8000-00000000000a"  # owner, hosts Intro Call and the webinar
MAX = "1a000000-0000-4000-8000-00000000000b"  # plain member, hosts Demo and Legacy
INTRO = "e7000000-0000-4000-8000-000000000001"
DEMO = "e7000000-0000-4000-8000-000000000002"
WEBINAR = "e7000000-0000-4000-8000-000000000003"
LEGACY = "e7000000-0000-4000-8000-000000000004"
LEAD_FORM = "3a000000-0000-4000-8000-000000000001"
TEAM_SIZE_QUESTION = "3b000000-0000-4000-8000-000000000001"
EMAIL_QUESTION = "3b000000-0000-4000-8000-000000000002"
ADMIN_TOKEN = "sim_pat_tiny_admin_olivia"
MEMBER_TOKEN = "sim_pat_tiny_member_max"


def _at(text: str) -> datetime:
    """A scenario instant written as ``MM-DD HH:MM`` (in 2025, UTC)."""
    return datetime.strptime(f"2025-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def _user(uuid: str, name: str, slug: str, created: str, timezone: str) -> Resource:
    return {
        "uri": uri_of("users", uuid),
        "name": name,
        "slug": slug,
        "email": f"{slug}@acme.example",
        "scheduling_url": f"https://calendly.com/{slug}",
        "timezone": timezone,
        "avatar_url": None,
        "created_at": created,
        "updated_at": created,
        "current_organization": uri_of("organizations", ORG_UUID),
    }


def _membership(store: Store, number: int, user: Resource, role: str) -> None:
    uuid = f"2a000000-0000-4000-8000-00000000000{number}"
    store.roles[uuid_of(user["uri"])] = role
    store.organization_memberships[uuid] = {
        "uri": uri_of("organization_memberships", uuid),
        "role": role,
        "user": {key: value for key, value in user.items() if key != "current_organization"},
        "organization": uri_of("organizations", ORG_UUID),
        "updated_at": user["created_at"],
        "created_at": user["created_at"],
    }


def _event_type(
    store: Store, uuid: str, name: str, owner: str, *, kind: str = "solo", limit: int = 1
) -> None:
    user = store.users[owner]
    slug = name.lower().replace(" ", "-")
    created = user["created_at"]
    store.event_types[uuid] = {
        "uri": uri_of("event_types", uuid),
        "name": name,
        "active": True,
        "booking_method": "instant",
        "slug": slug,
        "scheduling_url": f"https://calendly.com/{user['slug']}/{slug}",
        "duration": 60 if kind == "group" else 30,
        "kind": kind,
        "pooling_type": None,
        "type": "StandardEventType",
        "color": "#0069ff",
        "created_at": created,
        "updated_at": created,
        "internal_note": None,
        "description_plain": None,
        "description_html": None,
        "profile": {"type": "User", "name": user["name"], "owner": user["uri"]},
        "secret": False,
        "custom_questions": [],
        "deleted_at": None,
        "kind_description": "Group" if kind == "group" else "One-on-One",
        "admin_managed": False,
    }
    location = "zoom" if kind == "group" else "google_conference"
    store.event_type_settings[uuid] = {
        "hosts": [owner],
        "invitee_limit": limit,
        "location_kind": location,
    }


def _routing_form(store: Store, created: str) -> None:
    store.routing_forms[LEAD_FORM] = {
        "uri": uri_of("routing_forms", LEAD_FORM),
        "organization": uri_of("organizations", ORG_UUID),
        "name": "Lead Form",
        "status": "published",
        "questions": [
            {"uuid": TEAM_SIZE_QUESTION, "name": "Team size?", "type": "select",
             "required": True, "answer_choices": ["1-10", "11-50"]},
            {"uuid": EMAIL_QUESTION, "name": "Email", "type": "email", "required": True,
             "answer_choices": None},
        ],
        "created_at": created,
        "updated_at": created,
    }  # fmt: skip


def _setup(start: datetime) -> Store:
    store = Store(clock=SimClock(start))
    store.rng = random.Random("calendly-sim-tiny-scenario")
    created = format_ts(start)
    store.organization = {
        "uri": uri_of("organizations", ORG_UUID),
        "plan": "teams",
        "stage": "paid",
        "created_at": created,
        "updated_at": created,
    }
    olivia = store.users[OLIVIA] = _user(
        OLIVIA, "Olivia Owner", "olivia-owner", created, "Europe/Berlin"
    )
    max_ = store.users[MAX] = _user(MAX, "Max Member", "max-member", created, "America/New_York")
    _membership(store, 1, olivia, "owner")
    _membership(store, 2, max_, "user")
    _event_type(store, INTRO, "Intro Call", OLIVIA)
    _event_type(store, DEMO, "Demo", MAX)
    _event_type(store, WEBINAR, "Product Webinar", OLIVIA, kind="group", limit=5)
    _event_type(store, LEGACY, "Legacy Consultation", MAX)
    _routing_form(store, created)
    store.admin_token, store.member_token = ADMIN_TOKEN, MEMBER_TOKEN
    store.personal_access_tokens = {ADMIN_TOKEN: OLIVIA, MEMBER_TOKEN: MAX}
    return store


class _Script:
    """Runs the scenario's steps, moving the clock forward to each step's instant."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now
        self.invitees: dict[str, str] = {}  # email -> uuid of its current invitee
        # submissions draw their uuids from their own generator, so that the
        # bookings' uuids stay those of the scenario without routing forms
        self.submission_rng = random.Random("calendly-sim-tiny-submissions")

    def at(self, when: str | datetime) -> _Script:
        moment = when if isinstance(when, datetime) else _at(when)
        self.store.clock.set(moment)
        return self

    def book(self, email: str, event_type: str, start: str | datetime, **kwargs: Any) -> str:
        start_time = start if isinstance(start, datetime) else _at(start)
        name = email.split("@")[0].replace("-", " ").title()
        invitee = mutations.book(
            self.store,
            event_type_uuid=event_type,
            start_time=start_time,
            email=email,
            name=name,
            **kwargs,
        )
        self.invitees[email] = uuid_of(invitee["uri"])
        return uuid_of(invitee["event"])

    def submit(self, email: str, team_size: str) -> str:
        """Submit the lead form; returns the submission's uuid (to pass to ``book``)."""
        answers = [
            {"question_uuid": TEAM_SIZE_QUESTION, "question": "Team size?", "answer": team_size},
            {"question_uuid": EMAIL_QUESTION, "question": "Email", "answer": email},
        ]
        scenario_rng, self.store.rng = self.store.rng, self.submission_rng
        try:
            submission = mutations.submit_routing_form(
                self.store, LEAD_FORM, questions_and_answers=answers,
                result={"type": "event_type", "value": uri_of("event_types", INTRO)},
            )  # fmt: skip
        finally:
            self.store.rng = scenario_rng
        return uuid_of(submission["uri"])

    def reschedule(
        self, email: str, start: str | datetime, new_email: str | None = None, **kwargs: Any
    ) -> None:
        start_time = start if isinstance(start, datetime) else _at(start)
        new = mutations.reschedule(
            self.store, self.invitees[email], new_start_time=start_time, email=new_email, **kwargs
        )
        self.invitees[email] = uuid_of(new["uri"])

    def mark_no_show(self, email: str) -> None:
        mutations.mark_no_show(self.store, self.invitees[email])

    def unmark_no_show(self, email: str) -> None:
        mutations.unmark_no_show(self.store, self.store.no_show_of_invitee[self.invitees[email]])

    def cancel(self, email: str, reason: str) -> None:
        mutations.cancel_invitee(self.store, self.invitees[email], reason=reason)


def build_tiny_organization(now: datetime | None = None) -> Store:
    """Build the hand-made edge-case organization (see the module docstring).

    Args:
        now: End of the history; the story's dates are fixed in Nov 2025 - Feb
            2026, so ``now`` must be 2026-01-15 12:00 UTC (the default) for the
            hand-counted expectations to hold.

    Returns:
        The store, its clock at ``now``.
    """
    now = (now or DEFAULT_NOW).astimezone(UTC)
    store = _setup(datetime(2025, 10, 1, 9, 0, tzinfo=UTC))
    run = _Script(store, now)
    _november(run)
    _december(run, now)
    _january(run, now)
    return store


def _november(run: _Script) -> None:
    run.at("11-03 10:00").book("resched-twice@example.com", INTRO, "11-10 15:00", tracking=GOOGLE)
    run.at("11-03 11:00").book("resched-cancel@example.com", DEMO, "11-20 16:00", tracking=LINKEDIN)
    s1 = run.at("11-04 09:50").submit("resched-noshow@example.com", "1-10")
    run.at("11-04 10:00").book("resched-noshow@example.com", INTRO, "11-14 15:00", tracking=GOOGLE,
                               routing_form_submission=s1)  # fmt: skip
    run.at("11-05 09:00").book("host-cancel@example.com", DEMO, "12-10 14:00")
    run.at("11-05 10:00").reschedule("resched-twice@example.com", "11-12 15:00")
    s2 = run.at("11-05 10:50").submit("invitee-cancel@example.com", "11-50")
    run.at("11-05 11:00").book(
        "invitee-cancel@example.com", INTRO, "12-15 15:00", tracking=LINKEDIN,
        routing_form_submission=s2,
    )  # fmt: skip
    run.at("11-06 09:00").book("cancel-24h@example.com", DEMO, "12-18 16:00")
    run.at("11-06 10:00").reschedule("resched-twice@example.com", "12-01 15:00",
                                     new_email="resched-twice-new@example.com",
                                     tracking=FACEBOOK)  # fmt: skip
    run.at("11-06 11:00").book("cancel-under-24h@example.com", INTRO, "12-19 15:00")
    run.at("11-07 10:00").reschedule("resched-noshow@example.com", "11-18 15:00")
    run.at("11-08 10:00").book("partial-utm@example.com", DEMO, "11-12 16:00",
                               tracking=NEWSLETTER_ONLY)  # fmt: skip
    run.at("11-08 11:00").book("legacy-type@example.com", LEGACY, "11-13 15:00")
    run.at("11-10 10:00").reschedule("resched-cancel@example.com", "11-25 16:00")
    webinar = run.at("11-10 12:00").book("group-a@example.com", WEBINAR, "12-11 17:00",
                                         tracking=GOOGLE)  # fmt: skip
    run.at("11-11 12:00").book("group-b@example.com", WEBINAR, "12-11 17:00", event_uuid=webinar)
    run.at("11-12 12:00").book("group-c@example.com", WEBINAR, "12-11 17:00", event_uuid=webinar,
                               tracking=LINKEDIN)  # fmt: skip
    run.at("11-15 10:00").book("untracked@example.com", INTRO, "11-20 15:00")
    run.at("11-18 16:00").mark_no_show("resched-noshow@example.com")
    run.at("11-20 16:00").mark_no_show("untracked@example.com")
    run.at("11-21 08:00").unmark_no_show("untracked@example.com")
    run.at("11-21 09:00").cancel("resched-cancel@example.com", "Something came up")


def _december(run: _Script, now: datetime) -> None:
    run.at("12-01 09:00").book("resched-lost@example.com", INTRO, "12-22 15:00")
    host_event = uuid_of(run.store.invitees[run.invitees["host-cancel@example.com"]]["event"])
    mutations.cancel_event(run.at("12-01 10:00").store, host_event, reason="Host unavailable")
    run.at("12-05 15:00").cancel("invitee-cancel@example.com", "Schedule conflict")
    run.at("12-09 10:00").cancel("group-b@example.com", "Cannot attend")
    run.at("12-10 10:00").reschedule(
        "resched-lost@example.com",
        datetime(2026, 1, 20, 15, 0, tzinfo=UTC),
        new_email="resched-lost-new@example.com",
    )
    mutations.delete_invitee_data(run.at("12-12 10:00").store, ["resched-lost-new@example.com"])
    run.at("12-17 16:00").cancel("cancel-24h@example.com", "Travel")
    run.at("12-18 15:01").cancel("cancel-under-24h@example.com", "Feeling unwell")
    s3 = run.at("12-20 09:50").submit("at-asof@example.com", "1-10")
    run.at("12-20 10:00").book("at-asof@example.com", DEMO, now, tracking=GOOGLE,
                               routing_form_submission=s3)  # fmt: skip
    run.at("12-21 10:00").submit("no-booking@example.com", "11-50")  # S4: not routed to a booking


def _january(run: _Script, now: datetime) -> None:
    run.at(datetime(2026, 1, 10, 10, 0, tzinfo=UTC)).book(
        "future-booking@example.com",
        DEMO,
        datetime(2026, 2, 5, 15, 0, tzinfo=UTC),
        tracking=FACEBOOK,
    )
    run.at(now)
    intro = run.store.event_types[INTRO]
    intro["name"] = "Intro Call (30 min)"
    intro["updated_at"] = format_ts(now)
    # the Legacy Consultation type was deleted: Calendly no longer lists it
    del run.store.event_types[LEGACY]
    del run.store.event_type_settings[LEGACY]
