"""The generated organization: deterministic, realistic mix, internally consistent."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from calendly_elt.simulator.generator import (
    DEFAULT_NOW,
    SIZES,
    dump_store,
    generate_organization,
)
from calendly_elt.simulator.mutations import LOCATION_KINDS
from calendly_elt.simulator.store import Store, parse_ts, uuid_of

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def small() -> Store:
    return generate_organization(seed=7, size="small")


def _first_invitees(store: Store) -> list[dict]:
    return [i for i in store.invitees.values() if i["old_invitee"] is None]


def _chain_length(store: Store, invitee: dict) -> int:
    by_uri = {i["uri"]: i for i in store.invitees.values()}
    length = 1
    while invitee["new_invitee"] in by_uri:
        invitee = by_uri[invitee["new_invitee"]]
        length += 1
    return length


def _final(store: Store, invitee: dict) -> dict:
    by_uri = {i["uri"]: i for i in store.invitees.values()}
    while invitee["new_invitee"] in by_uri:
        invitee = by_uri[invitee["new_invitee"]]
    return invitee


def test_same_seed_gives_identical_store() -> None:
    assert dump_store(generate_organization(3, "tiny")) == dump_store(
        generate_organization(3, "tiny")
    )


def test_different_seed_or_now_gives_different_store() -> None:
    base = dump_store(generate_organization(3, "tiny"))
    assert dump_store(generate_organization(4, "tiny")) != base
    later = DEFAULT_NOW + timedelta(days=1)
    assert dump_store(generate_organization(3, "tiny", now=later)) != base


def test_sizes_have_about_their_event_counts(small: Store) -> None:
    assert abs(len(generate_organization(1, "tiny").events) - SIZES["tiny"].events) <= 3
    assert abs(len(small.events) - SIZES["small"].events) <= 20
    assert SIZES["medium"].events == 20_000 and SIZES["large"].events >= 100_000


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown organization size"):
        generate_organization(1, "huge")


def test_clock_ends_at_now_and_history_spans_18_months_back_6_ahead(small: Store) -> None:
    assert small.clock.now() == DEFAULT_NOW
    starts = sorted(parse_ts(e["start_time"]) for e in small.events.values())
    assert DEFAULT_NOW - starts[0] > timedelta(days=500)
    assert starts[-1] - DEFAULT_NOW > timedelta(days=120)
    future = sum(1 for s in starts if s > DEFAULT_NOW)
    assert 0.03 * len(starts) < future < 0.4 * len(starts)


def test_about_a_third_of_bookings_untracked(small: Store) -> None:
    first = _first_invitees(small)
    untracked = [i for i in first if all(v is None for v in i["tracking"].values())]
    assert 0.27 < len(untracked) / len(first) < 0.40
    campaigns = {i["tracking"]["utm_campaign"] for i in first} - {None}
    sources = {i["tracking"]["utm_source"] for i in first} - {None}
    assert len(campaigns) >= 5 and len(sources) >= 5


def test_cancellations_by_host_and_invitee_with_late_and_24h_leads(small: Store) -> None:
    canceled = [
        i for i in small.invitees.values() if i["status"] == "canceled" and not i["rescheduled"]
    ]
    types = Counter(i["cancellation"]["canceler_type"] for i in canceled)
    assert types["host"] >= 10 and types["invitee"] >= 30
    leads = [
        parse_ts(small.events[uuid_of(i["event"])]["start_time"])
        - parse_ts(i["cancellation"]["created_at"])
        for i in canceled
    ]
    assert all(lead > timedelta(0) for lead in leads)
    assert sum(1 for lead in leads if lead < timedelta(hours=24)) >= 10
    assert sum(1 for lead in leads if lead == timedelta(hours=24)) >= 1
    assert sum(1 for lead in leads if lead > timedelta(hours=24)) >= 10
    assert all(i["cancellation"]["created_at"] <= i["updated_at"] for i in canceled)


def test_reschedule_chains_twice_and_then_canceled_or_no_show(small: Store) -> None:
    lengths = Counter(_chain_length(small, i) for i in _first_invitees(small))
    assert lengths[3] >= 3 and lengths[2] >= 20
    finals = [_final(small, i) for i in _first_invitees(small) if i["rescheduled"]]
    assert any(f["status"] == "canceled" and not f["rescheduled"] for f in finals)
    assert any(f["no_show"] is not None for f in finals)
    for old in (i for i in small.invitees.values() if i["rescheduled"]):
        assert old["status"] == "canceled" and old["new_invitee"]
        new = small.invitees[uuid_of(old["new_invitee"])]
        assert new["old_invitee"] == old["uri"] and new["email"] == old["email"]
        assert new["event"] != old["event"]


def test_no_shows_only_on_meetings_that_started(small: Store) -> None:
    marked = [i for i in small.invitees.values() if i["no_show"] is not None]
    assert len(marked) >= 20
    for invitee in marked:
        start = small.events[uuid_of(invitee["event"])]["start_time"]
        assert start <= invitee["no_show"]["created_at"] <= "2026-01-15T12:00:00.000000Z"
        assert invitee["status"] == "active"
        no_show = small.no_shows[small.no_show_of_invitee[uuid_of(invitee["uri"])]]
        assert no_show["invitee"] == invitee["uri"]
    assert len(small.no_shows) == len(marked)


def test_group_events_have_several_invitees_some_canceled_alone(small: Store) -> None:
    group_events = [e for e in small.events.values() if e["invitees_counter"]["limit"] > 1]
    assert len(group_events) >= 20
    assert max(e["invitees_counter"]["total"] for e in group_events) >= 4
    partly_canceled = [
        e
        for e in group_events
        if e["status"] == "active"
        and 0 < e["invitees_counter"]["active"] < e["invitees_counter"]["total"]
    ]
    assert partly_canceled


def test_all_location_types_present(small: Store) -> None:
    kinds = Counter((e["location"] or {}).get("type") for e in small.events.values())
    assert set(kinds) == {*LOCATION_KINDS, None}
    assert "zoom" in kinds and "microsoft_teams_conference" in kinds


def test_invitee_counters_match_invitees(small: Store) -> None:
    for uuid, event in small.events.items():
        invitees = small.invitees_of(uuid)
        counter = event["invitees_counter"]
        assert counter["total"] == len(invitees) >= 1
        assert counter["active"] == sum(1 for i in invitees if i["status"] == "active")
        assert counter["active"] <= counter["limit"]
        if event["status"] == "canceled":
            assert counter["active"] == 0 and event["cancellation"]["created_at"]
        assert event["updated_at"] >= event["created_at"]


def test_people_roles_and_users_who_left(small: Store) -> None:
    roles = Counter(small.roles.values())
    assert roles["owner"] == 1 and roles["admin"] >= 1 and roles["user"] >= 3
    left = [u for u in small.users if u not in small.roles]
    assert left
    members = {uuid_of(m["user"]["uri"]) for m in small.organization_memberships.values()}
    assert members == set(small.roles) and not members & set(left)
    assert small.groups and all(small.group_members[g] for g in small.groups)


def test_event_type_mix(small: Store) -> None:
    types = list(small.event_types.values())
    assert {t["pooling_type"] for t in types} == {None, "round_robin", "collective"}
    assert {t["kind"] for t in types} == {"solo", "group"}
    assert any(not t["active"] for t in types) and any(t["active"] for t in types)
    assert any(t["custom_questions"] for t in types)
    assert any(i["questions_and_answers"] for i in small.invitees.values())
    collective = [
        e for e in small.events.values()
        if small.event_types[uuid_of(e["event_type"])]["pooling_type"] == "collective"
    ]  # fmt: skip
    assert collective and all(len(e["event_memberships"]) >= 2 for e in collective)


def test_routing_form_submissions_some_linked_to_invitees(small: Store) -> None:
    submissions = list(small.routing_form_submissions.values())
    linked = [s for s in submissions if s["submitter"]]
    assert linked
    for submission in linked:
        invitee = small.invitees[uuid_of(submission["submitter"])]
        assert invitee["routing_form_submission"] == submission["uri"]
    assert {f["status"] for f in small.routing_forms.values()} == {"published", "draft"}
    unrouted = [s for s in submissions if not s["submitter"]]
    assert {s["result"]["type"] for s in unrouted} == {"custom_message", "external_url"}
    assert {s["result"]["type"] for s in linked} == {"event_type"}


def test_timestamps_are_calendly_format(small: Store) -> None:
    for invitee in list(small.invitees.values())[:200]:
        assert TIMESTAMP.match(invitee["created_at"]) and TIMESTAMP.match(invitee["updated_at"])
    for event in list(small.events.values())[:200]:
        assert TIMESTAMP.match(event["start_time"]) and TIMESTAMP.match(event["end_time"])


def test_tokens_belong_to_owner_and_to_a_member_with_events(small: Store) -> None:
    admin = small.personal_access_tokens[small.admin_token]
    member = small.personal_access_tokens[small.member_token]
    assert small.roles[admin] in {"owner", "admin"} and small.roles[member] == "user"
    hosted = [
        e for e in small.events.values()
        if e["event_memberships"][0]["user"] == small.users[member]["uri"]
    ]  # fmt: skip
    assert hosted
    again = generate_organization(seed=7, size="small")
    assert (again.admin_token, again.member_token) == (small.admin_token, small.member_token)
