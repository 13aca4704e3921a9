"""Each mutation's effect on the store and the webhook notifications it emits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calendly_elt.simulator import mutations
from calendly_elt.simulator.scenarios import DEMO, MAX, OLIVIA, WEBINAR, build_tiny_organization
from calendly_elt.simulator.store import SimulatorError, Store, format_ts, parse_ts, uri_of, uuid_of


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, event_name: str, payload: dict) -> None:
        self.calls.append((event_name, payload))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def store() -> Store:
    return build_tiny_organization()


@pytest.fixture
def recorder(store: Store) -> Recorder:
    recorder = Recorder()
    store.listeners.append(recorder)
    return recorder


def _book(store: Store, days: float = 3, **kwargs) -> dict:
    start = (store.clock.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    params = {"event_type_uuid": DEMO, "start_time": start, "email": "new@example.com",
              "name": "New Person"} | kwargs  # fmt: skip
    return mutations.book(store, **params)


def _event(store: Store, invitee: dict) -> dict:
    return store.events[uuid_of(invitee["event"])]


def _error(call) -> SimulatorError:
    with pytest.raises(SimulatorError) as caught:
        call()
    return caught.value


# ---- book -------------------------------------------------------------------------


def test_book_creates_event_and_invitee_and_notifies(store: Store, recorder: Recorder) -> None:
    events_before = len(store.events)
    invitee = _book(store, tracking={"utm_source": "google"})
    event = _event(store, invitee)
    now = format_ts(store.clock.now())
    assert len(store.events) == events_before + 1
    assert invitee["status"] == "active" and invitee["created_at"] == invitee["updated_at"] == now
    assert invitee["tracking"] == {"utm_source": "google", "utm_medium": None,
                                   "utm_campaign": None, "utm_content": None, "utm_term": None,
                                   "salesforce_uuid": None}  # fmt: skip
    assert event["invitees_counter"] == {"total": 1, "active": 1, "limit": 1}
    assert event["event_memberships"][0]["user"] == uri_of("users", MAX)
    assert event["event_memberships"][0]["user_email"] == store.users[MAX]["email"]
    assert event["event_type"] == uri_of("event_types", DEMO)
    ((name, payload),) = recorder.calls
    assert name == "invitee.created" and payload["uri"] == invitee["uri"]
    assert payload["scheduled_event"]["uri"] == event["uri"]


def test_book_far_in_the_future_is_indexed(store: Store) -> None:
    invitee = _book(store, days=3 * 365)
    start = _event(store, invitee)["start_time"]
    assert start.startswith("2029-")
    found = [e["uri"] for e in store.events_between(start, "2030-01-01T00:00:00.000000Z")]
    assert found == [invitee["event"]]


def test_book_refuses_bad_requests(store: Store) -> None:
    past = _error(lambda: _book(store, days=-1))
    assert (past.status, past.title) == (400, "Invalid Argument")
    assert _error(lambda: _book(store, event_type_uuid="nope")).status == 404
    store.event_types[DEMO]["active"] = False
    assert "not active" in _error(lambda: _book(store)).details[0]["message"]


def test_join_group_event_until_full(store: Store, recorder: Recorder) -> None:
    first = _book(store, event_type_uuid=WEBINAR)
    event = _event(store, first)
    start = store.clock.now() + timedelta(days=3)
    start = start.replace(minute=0, second=0, microsecond=0)
    for number in range(4):
        store.clock.advance(timedelta(minutes=5))
        joined = mutations.book(store, event_type_uuid=WEBINAR, start_time=start,
                                email=f"g{number}@example.com", name="G",
                                event_uuid=uuid_of(event["uri"]))  # fmt: skip
        assert joined["event"] == event["uri"]
    assert event["invitees_counter"] == {"total": 5, "active": 5, "limit": 5}
    assert event["updated_at"] == format_ts(store.clock.now())
    full = _error(lambda: mutations.book(store, event_type_uuid=WEBINAR, start_time=start,
                                          email="x@example.com", name="X",
                                          event_uuid=uuid_of(event["uri"])))  # fmt: skip
    assert full.status == 400 and "full" in full.details[0]["message"]
    wrong = _error(lambda: mutations.book(store, event_type_uuid=WEBINAR,
                                           start_time=start + timedelta(hours=1),
                                           email="x@example.com", name="X",
                                           event_uuid=uuid_of(event["uri"])))  # fmt: skip
    assert wrong.status == 400
    assert recorder.names == ["invitee.created"] * 5


# ---- cancel -----------------------------------------------------------------------


def test_invitee_cancel_cancels_one_on_one_event(store: Store, recorder: Recorder) -> None:
    invitee = _book(store)
    store.clock.advance(timedelta(hours=2))
    mutations.cancel_invitee(store, uuid_of(invitee["uri"]), reason="Busy")
    event, now = _event(store, invitee), format_ts(store.clock.now())
    assert invitee["status"] == "canceled" and invitee["updated_at"] == now
    assert invitee["cancellation"] == {"canceled_by": "New Person", "reason": "Busy",
                                       "canceler_type": "invitee", "created_at": now}  # fmt: skip
    assert event["status"] == "canceled" and event["updated_at"] == now
    assert event["invitees_counter"] == {"total": 1, "active": 0, "limit": 1}
    assert recorder.names == ["invitee.created", "invitee.canceled"]
    assert recorder.calls[1][1]["scheduled_event"]["status"] == "canceled"
    again = _error(lambda: mutations.cancel_invitee(store, uuid_of(invitee["uri"])))
    assert again.status == 400
    assert _error(lambda: mutations.cancel_invitee(store, "missing")).status == 404


def test_invitee_cancel_in_group_event_keeps_event_active(store: Store) -> None:
    group_b = next(i for i in store.invitees.values() if i["email"] == "group-b@example.com")
    event = _event(store, group_b)
    assert event["status"] == "active"
    assert event["invitees_counter"] == {"total": 3, "active": 2, "limit": 5}


def test_host_cancel_cancels_every_active_invitee(store: Store, recorder: Recorder) -> None:
    first = _book(store, event_type_uuid=WEBINAR)
    event = _event(store, first)
    second = mutations.book(store, event_type_uuid=WEBINAR,
                            start_time=parse_ts(event["start_time"]),
                            email="two@example.com", name="Two",
                            event_uuid=uuid_of(event["uri"]))  # fmt: skip
    store.clock.advance(timedelta(hours=1))
    cancellation = mutations.cancel_event(store, uuid_of(event["uri"]), reason="Sick")
    now = format_ts(store.clock.now())
    assert cancellation == {"canceled_by": "Olivia Owner", "reason": "Sick",
                            "canceler_type": "host", "created_at": now}  # fmt: skip
    assert event["status"] == "canceled" and event["cancellation"] == cancellation
    assert event["invitees_counter"] == {"total": 2, "active": 0, "limit": 5}
    for invitee in (first, second):
        assert invitee["status"] == "canceled" and invitee["cancellation"] == cancellation
        assert invitee["updated_at"] == now
    assert recorder.names[-2:] == ["invitee.canceled", "invitee.canceled"]
    assert _error(lambda: mutations.cancel_event(store, uuid_of(event["uri"]))).status == 400


def test_cannot_cancel_a_meeting_that_started(store: Store) -> None:
    held = next(i for i in store.invitees.values() if i["email"] == "group-a@example.com")
    error = _error(lambda: mutations.cancel_event(store, uuid_of(held["event"])))
    assert error.status == 400 and "started" in error.details[0]["message"]


# ---- reschedule ---------------------------------------------------------------------


def test_reschedule_links_old_and_new_invitees(store: Store, recorder: Recorder) -> None:
    old = _book(store, tracking={"utm_campaign": "spring"})
    store.clock.advance(timedelta(hours=1))
    new_start = (store.clock.now() + timedelta(days=10)).replace(minute=0, second=0,
                                                                 microsecond=0)  # fmt: skip
    new = mutations.reschedule(store, uuid_of(old["uri"]), new_start_time=new_start)
    now = format_ts(store.clock.now())
    assert old["status"] == "canceled" and old["rescheduled"] is True
    assert old["new_invitee"] == new["uri"] and new["old_invitee"] == old["uri"]
    assert old["cancellation"]["canceler_type"] == "invitee"
    assert old["cancellation"]["created_at"] == now == old["updated_at"]
    assert new["event"] != old["event"] and new["tracking"] == old["tracking"]
    assert _event(store, new)["start_time"] == format_ts(new_start)
    assert _event(store, old)["status"] == "canceled"
    assert new["created_at"] == now and new["rescheduled"] is False
    assert recorder.names == ["invitee.created", "invitee.canceled", "invitee.created"]
    canceled_payload = recorder.calls[1][1]
    assert canceled_payload["rescheduled"] is True
    assert canceled_payload["new_invitee"] == new["uri"]


def test_reschedule_of_canceled_invitee_is_refused(store: Store) -> None:
    invitee = _book(store)
    mutations.cancel_invitee(store, uuid_of(invitee["uri"]))
    later = store.clock.now() + timedelta(days=5)
    error = _error(lambda: mutations.reschedule(store, uuid_of(invitee["uri"]),
                                                 new_start_time=later))  # fmt: skip
    assert error.status == 400


# ---- no-shows -------------------------------------------------------------------------


def test_no_show_mark_and_unmark_leave_updated_at_alone(store: Store, recorder: Recorder) -> None:
    invitee = next(i for i in store.invitees.values() if i["email"] == "at-asof@example.com")
    event = _event(store, invitee)
    before = (invitee["updated_at"], event["updated_at"])
    store.clock.advance(timedelta(hours=1))
    no_show = mutations.mark_no_show(store, uuid_of(invitee["uri"]))
    assert no_show["invitee"] == invitee["uri"]
    assert no_show["created_at"] == format_ts(store.clock.now())
    assert invitee["no_show"] == {"uri": no_show["uri"], "created_at": no_show["created_at"]}
    assert store.no_shows[uuid_of(no_show["uri"])] is no_show
    assert (invitee["updated_at"], event["updated_at"]) == before
    again = _error(lambda: mutations.mark_no_show(store, uuid_of(invitee["uri"])))
    assert again.status == 400
    store.clock.advance(timedelta(hours=1))
    mutations.unmark_no_show(store, uuid_of(no_show["uri"]))
    assert invitee["no_show"] is None and uuid_of(no_show["uri"]) not in store.no_shows
    assert (invitee["updated_at"], event["updated_at"]) == before
    assert recorder.names == ["invitee_no_show.created", "invitee_no_show.deleted"]
    assert _error(lambda: mutations.unmark_no_show(store, "missing")).status == 404


def test_no_show_refused_before_the_meeting(store: Store) -> None:
    invitee = _book(store)
    error = _error(lambda: mutations.mark_no_show(store, uuid_of(invitee["uri"])))
    assert error.status == 400 and invitee["no_show"] is None


# ---- deletion and routing forms ----------------------------------------------------------


def test_data_compliance_deletion_removes_invitees_and_empty_events(store: Store) -> None:
    emails = {"resched-twice@example.com", "resched-twice-new@example.com"}
    chain = [i for i in store.invitees.values() if i["email"] in emails]
    assert len(chain) == 3
    events = {uuid_of(i["event"]) for i in chain}
    group_b = next(i for i in store.invitees.values() if i["email"] == "group-b@example.com")
    webinar = _event(store, group_b)
    removed = mutations.delete_invitee_data(
        store, ["RESCHED-TWICE@example.com", "resched-twice-new@example.com", "group-b@example.com"]
    )
    assert removed == 4
    assert not events & set(store.events)
    assert all(i["email"] not in emails for i in store.invitees.values())
    assert webinar["invitees_counter"] == {"total": 2, "active": 2, "limit": 5}
    assert mutations.delete_invitee_data(store, ["nobody@example.com"]) == 0


def test_deleted_no_show_goes_with_its_invitee(store: Store) -> None:
    marked = [i for i in store.invitees.values() if i["no_show"]]
    assert len(marked) == 1 and len(store.no_shows) == 1
    mutations.delete_invitee_data(store, [marked[0]["email"]])
    assert store.no_shows == {} and store.no_show_of_invitee == {}


def test_routing_form_submission_links_to_the_booking(store: Store, recorder: Recorder) -> None:
    form_uuid = "f0000000-0000-4000-8000-000000000001"
    store.routing_forms[form_uuid] = {"uri": uri_of("routing_forms", form_uuid)}
    submission = mutations.submit_routing_form(
        store, form_uuid, questions_and_answers=[], tracking={"utm_source": "ads"}
    )
    assert submission["submitter"] is None and submission["tracking"]["utm_source"] == "ads"
    invitee = _book(store, routing_form_submission=uuid_of(submission["uri"]))
    assert invitee["routing_form_submission"] == submission["uri"]
    assert submission["submitter"] == invitee["uri"] and submission["submitter_type"] == "Invitee"
    assert recorder.names == ["routing_form_submission.created", "invitee.created"]


def test_round_robin_and_forced_host(store: Store) -> None:
    store.event_types[DEMO]["pooling_type"] = "round_robin"
    store.event_type_settings[DEMO]["hosts"] = [MAX, OLIVIA]
    hosts = set()
    for number in range(12):
        invitee = _book(store, days=3 + number, email=f"rr{number}@example.com")
        hosts.add(_event(store, invitee)["event_memberships"][0]["user"])
    assert hosts == {uri_of("users", MAX), uri_of("users", OLIVIA)}
    forced = _book(store, days=30, host_user_uuid=OLIVIA)
    assert _event(store, forced)["event_memberships"] == [
        {"user": uri_of("users", OLIVIA), "user_email": store.users[OLIVIA]["email"],
         "user_name": "Olivia Owner"}
    ]  # fmt: skip
