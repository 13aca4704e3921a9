"""Known data held compactly: every lookup answers as the plain objects did, in far less memory."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

from calendly_elt.calendly.helpers.known_data import KnownData, KnownEvent, fingerprint_of
from calendly_elt.calendly.helpers.windows import FAR_FUTURE, Window

BASE = "https://api.calendly.com/scheduled_events/"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _uuid(number: int) -> str:
    return str(uuid.UUID(int=number * 7919 + 13))


def _event(number: int, **overrides: object) -> tuple[str, KnownEvent]:
    start = NOW - timedelta(days=number % 400, microseconds=number)
    values: dict[str, object] = {
        "start_time": start,
        "end_time": start + timedelta(minutes=30),
        "fingerprint": (start - timedelta(days=2), "active", number % 3, number % 2),
        "invitees_read_at": None if number % 5 == 0 else NOW,
    }
    values.update(overrides)
    return BASE + _uuid(number), KnownEvent(**values)  # type: ignore[arg-type]


def _row(uri: str, known: KnownEvent) -> dict[str, object]:
    updated, status, total, active = known.fingerprint
    return {
        "uri": uri,
        "updated_at": updated,
        "status": status,
        "invitees_counter": {"total": total, "active": active},
    }


def test_every_event_reads_back_as_it_was_stored() -> None:
    events = dict(_event(number) for number in range(200))
    odd = {
        "E1": KnownEvent(NOW, None, ("fp",)),  # not a Calendly URI, not a 4-field fingerprint
        BASE + _uuid(1).upper(): KnownEvent(NOW, NOW, (NOW, "active", 1, 1)),  # upper-case UUID
        BASE + _uuid(999): KnownEvent(NOW, NOW, (NOW.replace(tzinfo=None), None, None, True)),
        "http://127.0.0.1:8080/scheduled_events/" + _uuid(5): KnownEvent(
            NOW, NOW, (NOW, "x", 0, 0)
        ),
    }
    known = KnownData(events={**events, **odd})

    assert known.event_count == len(events) + len(odd)
    for uri, stored in {**events, **odd}.items():
        assert known.event(uri) == stored, uri
        assert known.invitees_read_at(uri) == stored.invitees_read_at
    assert known.event(BASE + _uuid(100_000)) is None
    assert known.event("https://elsewhere.example/scheduled_events/" + _uuid(3)) is None


def test_a_changed_fingerprint_is_seen_and_an_unchanged_one_is_not() -> None:
    uri, stored = _event(42)
    known = KnownData(events={uri: stored})
    row = _row(uri, stored)
    assert fingerprint_of(row) == stored.fingerprint
    assert not known.changed(row)
    for change in ({"status": "canceled"}, {"invitees_counter": {"total": 9, "active": 9}}):
        assert known.changed({**row, **change})
    assert known.changed({**row, "updated_at": stored.fingerprint[0] + timedelta(microseconds=1)})
    assert known.changed({**row, "uri": BASE + _uuid(43)})  # new


def test_vanished_events_are_those_of_the_window_missing_from_its_listing() -> None:
    events = dict(_event(number) for number in range(300))
    events["E-loose"] = KnownEvent(NOW - timedelta(days=3), None, ("fp",))
    events["E-no-start"] = KnownEvent(None, None, ("fp",))  # type: ignore[arg-type]
    known = KnownData(events=events)
    window = Window(NOW - timedelta(days=30), NOW - timedelta(days=2))
    listed = set(list(events)[:300:2])  # every other Calendly event; E-loose is not listed

    expected = sorted(
        uri
        for uri, event in events.items()
        if event.start_time is not None and window.contains(event.start_time)
        and uri not in listed
    )  # fmt: skip
    assert expected and "E-loose" in expected
    assert known.vanished_events(window, listed) == expected
    everything = Window(datetime(1970, 1, 2, tzinfo=UTC), FAR_FUTURE)
    assert len(known.vanished_events(everything, set())) == len(events) - 1


def test_invitees_come_back_by_event_whatever_their_shape() -> None:
    event_uri, stored = _event(7)
    invitees = {f"{event_uri}/invitees/{_uuid(number)}" for number in range(1000, 1005)}
    strange = {f"{event_uri}/invitees/not-a-uuid", "https://elsewhere.example/invitees/x"}
    known = KnownData(
        events={event_uri: stored}, invitees_by_event={event_uri: invitees | strange, "E2": {"I"}}
    )

    assert known.events_with_invitees == 2
    assert known.invitees_of([event_uri, "E2"]) == sorted(invitees | strange | {"I"})
    kept = set(sorted(invitees)[:2])
    assert known.vanished_invitees(event_uri, kept) == sorted((invitees | strange) - kept)
    assert known.invitees_of([BASE + _uuid(8)]) == []


def test_known_data_takes_a_fraction_of_the_memory_of_plain_objects() -> None:
    count = 20_000

    def rows() -> object:  # fresh objects for every row, as a database cursor gives them
        for number in range(count):
            uri, event = _event(number)
            yield uri, event, f"{uri}/invitees/{_uuid(number + count)}"

    def plain() -> object:  # what read_known_data held before
        events, invitees = {}, {}
        for uri, event, invitee in rows():  # type: ignore[attr-defined]
            events[uri] = event
            invitees.setdefault(str(uri), set()).add(invitee)
        return events, invitees

    def compact() -> object:
        known = KnownData()
        for uri, event, invitee in rows():  # type: ignore[attr-defined]
            known.add_event(uri, event)
            known.add_invitee(uri, invitee)
        return known

    held = {}
    for name, build in (("plain", plain), ("compact", compact)):
        gc.collect()
        tracemalloc.start()
        kept = build()
        held[name] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
    assert held["compact"] < 0.35 * held["plain"], held
