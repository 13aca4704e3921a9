"""Each mutation's effect on what the simulator's API returns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from calendly_elt.simulator import SimConfig, Simulator, mutations
from calendly_elt.simulator.scenarios import DEMO, MAX, WEBINAR, build_tiny_organization
from calendly_elt.simulator.store import Store, format_ts, uri_of, uuid_of

BASE = "https://api.calendly.com"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(build_tiny_organization(), SimConfig(requests_per_minute=10**6))


@pytest.fixture
def store(sim: Simulator) -> Store:
    return sim.store


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        yield client


def _get(api: httpx.Client, path: str, **params: str) -> dict:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _event(api: httpx.Client, event_uri: str) -> dict:
    return _get(api, f"/scheduled_events/{uuid_of(event_uri)}")["resource"]


def _invitee(api: httpx.Client, invitee_uri: str) -> dict:
    path = invitee_uri.removeprefix(BASE)
    return _get(api, path)["resource"]


def _invitees(api: httpx.Client, event_uri: str, **params: str) -> list[dict]:
    path = f"/scheduled_events/{uuid_of(event_uri)}/invitees"
    return _get(api, path, count="100", **params)["collection"]


def _events(api: httpx.Client, store: Store, **params: str) -> list[dict]:
    query = {"organization": store.organization["uri"], "count": "100", **params}
    return _get(api, "/scheduled_events", **query)["collection"]


def _book(store: Store, days: float = 3, **kwargs) -> dict:
    start = (store.clock.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    params = {"event_type_uuid": DEMO, "start_time": start, "email": "api@example.com",
              "name": "Api Person", "tracking": {"utm_source": "google"}} | kwargs  # fmt: skip
    return mutations.book(store, **params)


def test_new_booking_is_served(api: httpx.Client, store: Store) -> None:
    invitee = _book(store)
    event = _event(api, invitee["event"])
    assert event["status"] == "active" and event["invitees_counter"]["active"] == 1
    assert event["event_memberships"][0]["user"] == uri_of("users", MAX)
    (served,) = _invitees(api, invitee["event"])
    assert served["uri"] == invitee["uri"] and served["tracking"]["utm_source"] == "google"
    listed = _events(api, store, min_start_time=format_ts(store.clock.now()))
    assert invitee["event"] in [e["uri"] for e in listed]


def test_booking_years_ahead_is_served_in_its_window(api: httpx.Client, store: Store) -> None:
    invitee = _book(store, days=4 * 365)
    start = _event(api, invitee["event"])["start_time"]
    window = _events(api, store, min_start_time="2029-01-01T00:00:00.000000Z",
                     max_start_time="2031-01-01T00:00:00.000000Z")  # fmt: skip
    assert [e["uri"] for e in window] == [invitee["event"]] and start.startswith("2030-01-14")


def test_invitee_cancel_is_served(api: httpx.Client, store: Store) -> None:
    invitee = _book(store)
    store.clock.advance(timedelta(minutes=30))
    mutations.cancel_invitee(store, uuid_of(invitee["uri"]), reason="Busy")
    now = format_ts(store.clock.now())
    event = _event(api, invitee["event"])
    assert event["status"] == "canceled" and event["updated_at"] == now
    assert event["cancellation"]["canceler_type"] == "invitee"
    assert event["cancellation"]["created_at"] == now
    (canceled,) = _invitees(api, invitee["event"], status="canceled")
    assert canceled["cancellation"]["reason"] == "Busy" and canceled["updated_at"] == now
    assert _invitees(api, invitee["event"], status="active") == []
    assert invitee["event"] in [e["uri"] for e in _events(api, store, status="canceled")]


def test_host_cancel_is_served(api: httpx.Client, store: Store) -> None:
    invitee = _book(store, event_type_uuid=WEBINAR)
    mutations.book(store, event_type_uuid=WEBINAR, email="second@example.com", name="Second",
                   start_time=datetime.fromisoformat(
                       _event(api, invitee["event"])["start_time"].replace("Z", "+00:00")),
                   event_uuid=uuid_of(invitee["event"]))  # fmt: skip
    mutations.cancel_event(store, uuid_of(invitee["event"]), reason="Sick")
    served = _invitees(api, invitee["event"])
    assert len(served) == 2
    assert {i["cancellation"]["canceler_type"] for i in served} == {"host"}
    assert _event(api, invitee["event"])["invitees_counter"] == {
        "total": 2, "active": 0, "limit": 5}  # fmt: skip


def test_group_join_and_individual_cancel_are_served(api: httpx.Client, store: Store) -> None:
    group_b = next(i for i in store.invitees.values() if i["email"] == "group-b@example.com")
    served = {i["email"]: i["status"] for i in _invitees(api, group_b["event"])}
    assert served == {"group-a@example.com": "active", "group-b@example.com": "canceled",
                      "group-c@example.com": "active"}  # fmt: skip
    event = _event(api, group_b["event"])
    assert event["status"] == "active" and event["invitees_counter"]["active"] == 2


def test_reschedule_is_served(api: httpx.Client, store: Store) -> None:
    old = _book(store)
    store.clock.advance(timedelta(hours=1))
    new_start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    new = mutations.reschedule(store, uuid_of(old["uri"]), new_start_time=new_start)
    served_old = _invitee(api, old["uri"])
    assert served_old["status"] == "canceled" and served_old["rescheduled"] is True
    assert served_old["new_invitee"] == new["uri"]
    served_new = _invitee(api, new["uri"])
    assert served_new["old_invitee"] == old["uri"] and served_new["status"] == "active"
    assert _event(api, new["event"])["start_time"] == "2026-03-02T15:00:00.000000Z"
    by_email = _events(api, store, invitee_email="api@example.com")
    assert {e["uri"] for e in by_email} == {old["event"], new["event"]}


def test_no_show_mark_and_unmark_are_served_without_updated_at_change(
    api: httpx.Client, store: Store
) -> None:
    held = next(i for i in store.invitees.values() if i["email"] == "at-asof@example.com")
    before_event = _event(api, held["event"])["updated_at"]
    before_invitee = _invitee(api, held["uri"])["updated_at"]
    store.clock.advance(timedelta(hours=2))
    no_show = mutations.mark_no_show(store, uuid_of(held["uri"]))
    served = _invitee(api, held["uri"])
    assert served["no_show"] == {"uri": no_show["uri"], "created_at": no_show["created_at"]}
    assert served["updated_at"] == before_invitee
    assert _event(api, held["event"])["updated_at"] == before_event
    assert _get(api, no_show["uri"].removeprefix(BASE))["resource"]["invitee"] == held["uri"]
    mutations.unmark_no_show(store, uuid_of(no_show["uri"]))
    assert _invitee(api, held["uri"])["no_show"] is None
    assert api.get(no_show["uri"].removeprefix(BASE)).status_code == 404


def test_data_compliance_deletion_is_served(api: httpx.Client, store: Store) -> None:
    invitee = next(i for i in store.invitees.values() if i["email"] == "untracked@example.com")
    mutations.delete_invitee_data(store, ["untracked@example.com"])
    assert api.get(f"/scheduled_events/{uuid_of(invitee['event'])}").status_code == 404
    assert _events(api, store, invitee_email="untracked@example.com") == []
