"""Paging, filters, scope rules and error bodies of the simulator's list endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.store import (
    Resource,
    SimulatorError,
    Store,
    format_ts,
    parse_ts,
    uri_of,
    uuid_of,
)

BASE = "https://api.calendly.com"


@pytest.fixture(scope="module")
def store() -> Store:
    return generate_organization(seed=7, size="small")


@pytest.fixture(scope="module")
def sim(store: Store) -> Simulator:
    return Simulator(store, SimConfig(requests_per_minute=1_000_000))


def client_for(sim: Simulator, token: str) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(), base_url=BASE, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture(scope="module")
def admin(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim, sim.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def member(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim, sim.member_token) as client:
        yield client


def org_uri(store: Store) -> str:
    return str(store.organization["uri"])


def user_of(store: Store, token: str) -> str:
    return uri_of("users", store.personal_access_tokens[token])


def walk(client: httpx.Client, path: str, params: dict[str, str | int]) -> list[list[str]]:
    """Follow next_page from the first page; return the uris of every page."""
    pages: list[list[str]] = []
    response = client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([row["uri"] for row in body["collection"]])
        assert body["pagination"]["count"] == len(body["collection"])
        next_page = body["pagination"]["next_page"]
        if next_page is None:
            assert body["pagination"]["next_page_token"] is None
            return pages
        response = client.get(next_page)


def flat(pages: list[list[str]]) -> list[str]:
    return [uri for page in pages for uri in page]


def expected_events(
    store: Store,
    status: str | None = None,
    minimum: str | None = None,
    maximum: str | None = None,
    host: str | None = None,
    email: str | None = None,
    descending: bool = False,
) -> list[str]:
    """Independent oracle: filter and order the store's events by hand."""
    rows = [
        event
        for event in store.events.values()
        if (status is None or event["status"] == status)
        and (minimum is None or event["start_time"] >= minimum)
        and (maximum is None or event["start_time"] < maximum)
        and (host is None or host in [m["user"] for m in event["event_memberships"]])
        and (
            email is None or email in [i["email"] for i in store.invitees_of(uuid_of(event["uri"]))]
        )
    ]
    rows.sort(key=lambda event: (event["start_time"], event["uri"]), reverse=descending)
    return [event["uri"] for event in rows]


# ---- every row exactly once ----------------------------------------------------


@pytest.mark.parametrize(
    ("count", "status", "window", "descending"),
    [
        (100, None, None, False),
        (7, None, None, True),
        (1, "canceled", ("2025-06-01T00:00:00Z", "2025-09-01T00:00:00Z"), False),
        (7, "active", ("2025-10-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z"), True),
        (20, "canceled", None, False),
        (10, "active", ("2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"), False),
    ],
)
def test_organization_events_every_row_exactly_once(
    store: Store,
    admin: httpx.Client,
    count: int,
    status: str | None,
    window: tuple[str, str] | None,
    descending: bool,
) -> None:
    params: dict[str, str | int] = {"organization": org_uri(store), "count": count}
    if status:
        params["status"] = status
    if window:
        params["min_start_time"], params["max_start_time"] = window
    if descending:
        params["sort"] = "start_time:desc"
    pages = walk(admin, "/scheduled_events", params)
    minimum, maximum = (format_ts(parse_ts(bound)) for bound in window) if window else (None, None)
    expected = expected_events(store, status, minimum, maximum, descending=descending)
    assert len(expected) > count  # every combination really spans several pages
    assert flat(pages) == expected
    assert all(len(page) == count for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= count


def test_default_count_is_20_and_next_page_carries_every_parameter(
    store: Store, admin: httpx.Client
) -> None:
    params = {
        "organization": org_uri(store),
        "status": "active",
        "sort": "start_time:desc",
        "min_start_time": "2025-01-01T00:00:00.000000Z",
    }
    body = admin.get("/scheduled_events", params=params).json()
    assert len(body["collection"]) == 20
    next_page = body["pagination"]["next_page"]
    parts = urlsplit(next_page)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/scheduled_events"
    query = dict(parse_qsl(parts.query))
    assert query == {**params, "count": "20", "page_token": body["pagination"]["next_page_token"]}
    assert body["pagination"]["previous_page"] is None


def test_next_page_uses_the_base_url_the_request_arrived_on(sim: Simulator, store: Store) -> None:
    with httpx.Client(
        transport=sim.transport(),
        base_url="http://127.0.0.1:9999",
        headers={"Authorization": f"Bearer {sim.admin_token}"},
    ) as client:
        body = client.get("/scheduled_events", params={"organization": org_uri(store)}).json()
    assert body["pagination"]["next_page"].startswith("http://127.0.0.1:9999/scheduled_events?")
    # resource URIs stay canonical whatever host serves them
    assert body["collection"][0]["uri"].startswith(f"{BASE}/scheduled_events/")


@pytest.mark.parametrize("sort", ["start_time:asc", "start_time:desc"])
def test_previous_page_walks_back_over_the_same_pages(
    store: Store, admin: httpx.Client, sort: str
) -> None:
    params = {"organization": org_uri(store), "count": 9, "status": "canceled", "sort": sort}
    forward: list[list[str]] = []
    body = admin.get("/scheduled_events", params=params).json()
    forward.append([row["uri"] for row in body["collection"]])
    for _ in range(3):
        body = admin.get(body["pagination"]["next_page"]).json()
        forward.append([row["uri"] for row in body["collection"]])
    backward = [forward[-1]]
    for _ in range(3):
        body = admin.get(body["pagination"]["previous_page"]).json()
        backward.append([row["uri"] for row in body["collection"]])
    assert backward[::-1] == forward
    assert body["pagination"]["previous_page"] is None


def test_user_and_invitee_email_filters(store: Store, admin: httpx.Client) -> None:
    host = next(iter(store.events.values()))["event_memberships"][0]["user"]
    params: dict[str, str | int] = {"organization": org_uri(store), "user": host, "count": 13}
    assert flat(walk(admin, "/scheduled_events", params)) == expected_events(store, host=host)
    email = next(iter(store.invitees.values()))["email"]
    params = {"organization": org_uri(store), "invitee_email": email, "count": 1}
    got = flat(walk(admin, "/scheduled_events", params))
    assert got == expected_events(store, email=email)
    assert got


def test_group_scope_lists_events_of_group_members(store: Store, admin: httpx.Client) -> None:
    group_uuid, members = next((g, m) for g, m in store.group_members.items() if m)
    member_uris = {uri_of("users", member) for member in members}
    params = {"group": uri_of("groups", group_uuid), "count": 100}
    got = flat(walk(admin, "/scheduled_events", params))
    expected = [
        uri
        for uri in expected_events(store)
        if member_uris & {m["user"] for m in store.events[uuid_of(uri)]["event_memberships"]}
    ]
    assert got == expected
    assert 0 < len(got) < len(store.events)


def test_member_lists_own_events_with_user_scope(store: Store, member: httpx.Client) -> None:
    me = member.get("/users/me").json()["resource"]["uri"]
    got = flat(walk(member, "/scheduled_events", {"user": me, "count": 50}))
    assert got == expected_events(store, host=me)
    assert got


def test_invitee_lists_every_row_once_in_both_orders(store: Store, admin: httpx.Client) -> None:
    crowded = sorted(
        (uuid for uuid, invitees in store.invitees_by_event.items() if len(invitees) >= 3),
        key=lambda uuid: -len(store.invitees_by_event[uuid]),
    )[:3]
    assert crowded, "the small organization has group events with several invitees"
    for event_uuid in crowded:
        invitees = store.invitees_of(event_uuid)
        ascending = [i["uri"] for i in sorted(invitees, key=lambda i: (i["created_at"], i["uri"]))]
        path = f"/scheduled_events/{event_uuid}/invitees"
        assert flat(walk(admin, path, {"count": 1})) == ascending
        desc = flat(walk(admin, path, {"count": 2, "sort": "created_at:desc"}))
        assert desc == ascending[::-1]
        for status in ("active", "canceled"):
            wanted = [uri for uri in ascending if store.invitees[uuid_of(uri)]["status"] == status]
            assert flat(walk(admin, path, {"count": 1, "status": status})) == wanted
        email = invitees[0]["email"]
        by_email = flat(walk(admin, path, {"email": email}))
        assert by_email == [i["uri"] for i in invitees if i["email"] == email]


def test_paging_survives_inserts_before_the_cursor() -> None:
    store = generate_organization(seed=11, size="tiny")
    sim = Simulator(store)
    with client_for(sim, sim.admin_token) as client:
        params = {"organization": org_uri(store), "count": 5}
        first = client.get("/scheduled_events", params=params).json()
        earliest = dict(store.events[uuid_of(first["collection"][0]["uri"])])
        earliest["uri"] = uri_of("scheduled_events", "00000000-inserted-before-cursor")
        store.add_event(earliest)
        seen = [row["uri"] for row in first["collection"]]
        body = first
        while body["pagination"]["next_page"]:
            body = client.get(body["pagination"]["next_page"]).json()
            seen += [row["uri"] for row in body["collection"]]
    assert len(seen) == len(set(seen)) == len(store.events) - 1


def test_list_endpoints_other_than_events_page_completely(
    store: Store, admin: httpx.Client
) -> None:
    org = org_uri(store)
    memberships = flat(walk(admin, "/organization_memberships", {"organization": org, "count": 3}))
    assert sorted(memberships) == sorted(m["uri"] for m in store.organization_memberships.values())
    event_types = flat(walk(admin, "/event_types", {"organization": org, "count": 4}))
    by_name = sorted(store.event_types.values(), key=lambda t: (t["name"].lower(), t["uri"]))
    assert event_types == [t["uri"] for t in by_name]
    active = flat(walk(admin, "/event_types", {"organization": org, "active": "false"}))
    assert active == [t["uri"] for t in by_name if not t["active"]]
    assert active
    groups = flat(walk(admin, "/groups", {"organization": org, "count": 1}))
    assert sorted(groups) == sorted(g["uri"] for g in store.groups.values())
    forms = flat(walk(admin, "/routing_forms", {"organization": org, "count": 1}))
    assert sorted(forms) == sorted(f["uri"] for f in store.routing_forms.values())
    for form in forms:
        submissions = flat(walk(admin, "/routing_form_submissions", {"form": form, "count": 7}))
        wanted = [
            s["uri"] for s in store.routing_form_submissions.values() if s["routing_form"] == form
        ]
        assert sorted(submissions) == sorted(wanted)


# ---- errors, with the real status and body ----------------------------------------


def test_expired_page_token_is_refused_with_400() -> None:
    store = generate_organization(seed=7, size="tiny")
    sim = Simulator(store, SimConfig(page_token_ttl=timedelta(minutes=10)))
    with client_for(sim, sim.admin_token) as client:
        first = client.get("/scheduled_events", params={"organization": org_uri(store)}).json()
        next_page = first["pagination"]["next_page"]
        sim.clock.advance(timedelta(minutes=9))
        assert client.get(next_page).status_code == 200
        sim.clock.advance(timedelta(minutes=2))
        response = client.get(next_page)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Argument"
    assert body["message"] == "The supplied parameters are invalid."
    assert body["details"][0]["parameter"] == "page_token"


def test_unknown_or_foreign_page_token_is_refused(store: Store, admin: httpx.Client) -> None:
    org = org_uri(store)
    response = admin.get("/scheduled_events", params={"organization": org, "page_token": "nope"})
    assert response.status_code == 400
    assert response.json()["details"] == [{"parameter": "page_token", "message": "is invalid"}]
    token = admin.get("/scheduled_events", params={"organization": org}).json()["pagination"][
        "next_page_token"
    ]
    other_filter = {"organization": org, "status": "canceled", "page_token": token}
    assert admin.get("/scheduled_events", params=other_filter).status_code == 400


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("0", "must be greater than or equal to 1"),
        ("101", "must be less than or equal to 100"),
        ("ten", "must be an integer"),
    ],
)
def test_bad_count_is_400(store: Store, admin: httpx.Client, count: str, message: str) -> None:
    response = admin.get(
        "/scheduled_events", params={"organization": org_uri(store), "count": count}
    )
    assert response.status_code == 400
    assert response.json() == {
        "title": "Invalid Argument",
        "message": "The supplied parameters are invalid.",
        "details": [{"parameter": "count", "message": message}],
    }


def test_count_bounds_are_accepted(store: Store, admin: httpx.Client) -> None:
    for count in (1, 100):
        body = admin.get(
            "/scheduled_events", params={"organization": org_uri(store), "count": count}
        ).json()
        assert len(body["collection"]) == count


def test_missing_scope_is_400(admin: httpx.Client) -> None:
    response = admin.get("/scheduled_events", params={"status": "active"})
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Argument"
    assert body["message"] == "The supplied parameters are invalid."
    assert body["details"][0]["parameter"] == "organization"


def test_non_admin_organization_scope_is_403(store: Store, member: httpx.Client) -> None:
    response = member.get("/scheduled_events", params={"organization": org_uri(store)})
    assert response.status_code == 403
    assert response.json() == {
        "title": "Permission Denied",
        "message": "You do not have permission to access this resource.",
    }


def test_admin_asking_for_another_user_without_organization_is_403(
    store: Store, sim: Simulator, admin: httpx.Client
) -> None:
    other = user_of(store, sim.member_token)
    response = admin.get("/scheduled_events", params={"user": other})
    assert response.status_code == 403
    assert response.json()["message"] == (
        "Please also specify organization when requesting events for a user within your "
        "organization."
    )


def test_member_cannot_read_another_hosts_event(
    store: Store, sim: Simulator, member: httpx.Client
) -> None:
    me = user_of(store, sim.member_token)
    foreign = next(
        event
        for event in store.events.values()
        if me not in [m["user"] for m in event["event_memberships"]]
    )
    response = member.get(f"/scheduled_events/{uuid_of(foreign['uri'])}/invitees")
    assert response.status_code == 403
    assert response.json() == {
        "title": "Permission Denied",
        "message": "You are not allowed to view this event",
    }


def test_invalid_filters_are_400(store: Store, admin: httpx.Client) -> None:
    org = org_uri(store)
    cases: list[tuple[dict[str, str], str]] = [
        ({"organization": org, "status": "pending"}, "status"),
        ({"organization": org, "sort": "updated_at:desc"}, "sort"),
        ({"organization": org, "min_start_time": "yesterday"}, "min_start_time"),
    ]
    for params, parameter in cases:
        response = admin.get("/scheduled_events", params=params)
        assert response.status_code == 400, params
        assert response.json()["details"][0]["parameter"] == parameter


def test_unknown_path_and_resource_are_404(admin: httpx.Client) -> None:
    not_found = {
        "title": "Resource Not Found",
        "message": "The server could not find the requested resource.",
    }
    for path in ("/no_such_thing", "/scheduled_events/NOPE", "/users/NOPE", "/event_types/X"):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert response.json() == not_found


def _event_with_host(store: Store, host: str) -> Resource:
    return next(
        event
        for event in store.events.values()
        if host in [m["user"] for m in event["event_memberships"]]
    )


def test_member_reads_own_event_and_its_invitees(
    store: Store, sim: Simulator, member: httpx.Client
) -> None:
    me = user_of(store, sim.member_token)
    event = _event_with_host(store, me)
    event_uuid = uuid_of(event["uri"])
    assert member.get(f"/scheduled_events/{event_uuid}").json() == {"resource": event}
    invitee = store.invitees_of(event_uuid)[0]
    path = f"/scheduled_events/{event_uuid}/invitees/{uuid_of(invitee['uri'])}"
    assert member.get(path).json() == {"resource": invitee}


@pytest.mark.parametrize("sort", ["name:asc", "name:desc"])
def test_previous_page_on_in_memory_lists(store: Store, admin: httpx.Client, sort: str) -> None:
    params = {"organization": org_uri(store), "count": 3, "sort": sort}
    pages = [admin.get("/event_types", params=params).json()]
    while pages[-1]["pagination"]["next_page"]:
        pages.append(admin.get(pages[-1]["pagination"]["next_page"]).json())
    assert len(pages) >= 3
    back = [pages[-1]]
    while back[-1]["pagination"]["previous_page"]:
        back.append(admin.get(back[-1]["pagination"]["previous_page"]).json())
    assert [p["collection"] for p in back[::-1]] == [p["collection"] for p in pages]
    names = [t["name"].lower() for p in pages for t in p["collection"]]
    assert names == sorted(names, reverse=sort.endswith("desc"))


def test_a_time_filter_without_a_zone_is_utc_whatever_the_machines_zone(
    admin: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    params = {"organization": org_uri(store), "count": 100}
    with_zone = walk(admin, "/scheduled_events",
                     {**params, "min_start_time": "2025-06-01T00:00:00Z"})  # fmt: skip
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = walk(
            admin, "/scheduled_events", {**params, "min_start_time": "2025-06-01T00:00:00"}
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert naive == with_zone
    assert parse_ts("2025-06-01T00:00:00") == parse_ts("2025-06-01T00:00:00Z")


def test_page_tokens_dead_for_a_day_are_forgotten() -> None:
    from calendly_elt.simulator.pagination import FORGET_AFTER, PRUNE_EVERY, PageTokens
    from calendly_elt.simulator.store import SimClock

    clock = SimClock(parse_ts("2026-01-15T12:00:00Z"))
    tokens = PageTokens(clock.now)
    old = tokens.issue(("a",), True, "f")
    clock.advance(FORGET_AFTER + timedelta(seconds=1))
    with pytest.raises(SimulatorError) as expired:
        tokens.resolve(old, "f")
    assert expired.value.details[0]["message"].startswith("has expired")
    recent = [tokens.issue(("b",), True, "f") for _ in range(PRUNE_EVERY - 1)]
    assert len(tokens._cursors) == PRUNE_EVERY - 1  # the PRUNE_EVERY-th issue dropped the old one
    with pytest.raises(SimulatorError) as forgotten:
        tokens.resolve(old, "f")
    assert forgotten.value.details[0]["message"] == "is invalid"
    assert tokens.resolve(recent[-1], "f").key == ("b",)
