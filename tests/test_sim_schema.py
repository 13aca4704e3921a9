"""Every GET the simulator serves validates against Calendly's own OpenAPI schemas.

The spec is OpenAPI 3.0: ``nullable: true`` is translated to a JSON-Schema null
union and ``$ref``s resolve inside the spec. The only extensions accepted are the
newer real-world values DESIGN.md lists (location ``type: zoom``, webhook events
``invitee_no_show.*``); extra fields are allowed as the spec allows them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.store import Resource, Store, uri_of, uuid_of

# Calendly's spec, committed unchanged under reference/ so a fresh clone needs nothing else
SPEC_PATH = Path(__file__).resolve().parents[1] / "reference" / "calendly-openapi-2023.yaml"
BASE = "https://api.calendly.com"
OPENAPI_ONLY = {"example", "examples", "nullable", "discriminator", "xml", "externalDocs",
                "readOnly", "writeOnly", "deprecated", "value"}  # fmt: skip
NEWER_LOCATION_TYPES = ["zoom"]  # DESIGN.md: served by the real API, absent from the 2023 spec
# /groups and /organizations/{uuid} have no schema in the 2023 export: their documented shape
GROUP_SCHEMA = {
    "type": "object",
    "required": ["uri", "name", "organization", "member_count", "created_at", "updated_at"],
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "name": {"type": "string"},
        "organization": {"type": "string", "format": "uri"},
        "member_count": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


# ---- OpenAPI 3.0 -> JSON Schema ------------------------------------------------------


def to_json_schema(node: Any) -> Any:
    """Translate an OpenAPI 3.0 schema object (recursively) to JSON Schema 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in OPENAPI_ONLY:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key == "required" and not isinstance(value, list):
            continue  # a stray `required: true` on a property
        else:
            out[key] = to_json_schema(value)
    return _nullable(out) if node.get("nullable") is True else out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema and not {"$ref", "oneOf", "anyOf", "allOf"} & schema.keys():
        schema = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


@cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open() as handle:
        return yaml.safe_load(handle)


@cache
def components() -> dict[str, Any]:
    schemas = to_json_schema(copy.deepcopy(spec()["components"]["schemas"]))
    schemas["NewerLocation"] = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": NEWER_LOCATION_TYPES}},
    }
    schemas["Location"]["anyOf"][0]["oneOf"].append({"$ref": "#/components/schemas/NewerLocation"})
    events = schemas["WebhookSubscription"]["properties"]["events"]["items"]["enum"]
    events += ["invitee_no_show.created", "invitee_no_show.deleted"]
    return {"schemas": schemas}


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    timestamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
    checker.checks("date-time")(
        lambda value: not isinstance(value, str) or bool(timestamp.match(value))
    )
    checker.checks("uri")(lambda value: not isinstance(value, str) or value.startswith("https://"))
    checker.checks("email")(lambda value: not isinstance(value, str) or "@" in value)
    return checker


FORMATS = _format_checker()


def validator_for(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    root = {**schema, "components": components()}
    return jsonschema.Draft202012Validator(root, format_checker=FORMATS)


def response_schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    operation = spec()["paths"][path][method]
    return to_json_schema(operation["responses"][status]["content"]["application/json"]["schema"])


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@cache
def validators() -> dict[str, jsonschema.Draft202012Validator]:
    wrapped = {"type": "object", "required": ["resource"]}
    paged = {"type": "object", "required": ["collection", "pagination"]}
    return {
        "user": validator_for(response_schema("/users/me")),
        "user_by_uuid": validator_for(response_schema("/users/{uuid}")),
        "organization": validator_for(
            {**wrapped, "properties": {"resource": component("Organization")}}
        ),
        "memberships": validator_for(response_schema("/organization_memberships")),
        "membership": validator_for(response_schema("/organization_memberships/{uuid}")),
        "groups": validator_for({**paged, "properties": {
            "collection": {"type": "array", "items": GROUP_SCHEMA},
            "pagination": component("Pagination")}}),
        "group": validator_for({**wrapped, "properties": {"resource": GROUP_SCHEMA}}),
        "event_types": validator_for(response_schema("/event_types")),
        "event_type": validator_for(response_schema("/event_types/{uuid}")),
        "events": validator_for(response_schema("/scheduled_events")),
        "event": validator_for(response_schema("/scheduled_events/{uuid}")),
        "invitees": validator_for(response_schema("/scheduled_events/{uuid}/invitees")),
        "invitee": validator_for(
            response_schema("/scheduled_events/{event_uuid}/invitees/{invitee_uuid}")
        ),
        "routing_forms": validator_for(response_schema("/routing_forms")),
        "routing_form": validator_for(response_schema("/routing_forms/{uuid}")),
        "submissions": validator_for(response_schema("/routing_form_submissions")),
        "submission": validator_for(response_schema("/routing_form_submissions/{uuid}")),
        "webhooks": validator_for(response_schema("/webhook_subscriptions")),
        "webhook": validator_for(response_schema("/webhook_subscriptions/{webhook_uuid}")),
        "webhook_created": validator_for(response_schema("/webhook_subscriptions", "post", "201")),
        "no_show": validator_for(response_schema("/invitee_no_shows/{uuid}")),
        "no_show_created": validator_for(response_schema("/invitee_no_shows", "post", "201")),
        "cancellation_created": validator_for(
            response_schema("/scheduled_events/{uuid}/cancellation", "post", "201")
        ),
        "error": validator_for(component("ErrorResponse")),
    }  # fmt: skip


def errors_of(kind: str, body: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validators()[kind].iter_errors(body)
    ]


# ---- the served organization ---------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> Store:
    return generate_organization(seed=7, size="small")


@pytest.fixture(scope="module")
def sim(store: Store) -> Simulator:
    return Simulator(store, SimConfig(requests_per_minute=1_000_000))


@pytest.fixture(scope="module")
def admin(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        yield client


def get_valid(client: httpx.Client, kind: str, url: str, **params: Any) -> Any:
    response = client.get(url, params=params or None)
    assert response.status_code == 200, (url, response.text)
    body = response.json()
    assert errors_of(kind, body) == [], url
    return body


def walk_valid(client: httpx.Client, kind: str, url: str, **params: Any) -> list[Resource]:
    rows: list[Resource] = []
    next_url: str | None = url
    query: dict[str, Any] | None = params
    while next_url:
        body = get_valid(client, kind, next_url, **(query or {}))
        rows += body["collection"]
        next_url, query = body["pagination"]["next_page"], None
    return rows


@pytest.fixture(scope="module")
def served_events(store: Store, admin: httpx.Client) -> list[Resource]:
    return walk_valid(admin, "events", "/scheduled_events",
                      organization=store.organization["uri"], count=100)  # fmt: skip


@pytest.fixture(scope="module")
def served_invitees(admin: httpx.Client, served_events: list[Resource]) -> list[Resource]:
    invitees: list[Resource] = []
    for event in served_events:
        path = f"/scheduled_events/{uuid_of(event['uri'])}/invitees"
        invitees += walk_valid(admin, "invitees", path, count=100)
    return invitees


# ---- every endpoint ---------------------------------------------------------------


def test_every_event_validates_and_covers_every_location_and_optional_object(
    store: Store, served_events: list[Resource]
) -> None:
    assert len(served_events) == len(store.events)
    location_types = {(event["location"] or {}).get("type") for event in served_events}
    spec_types = {"physical", "outbound_call", "inbound_call", "google_conference",
                  "zoom_conference", "gotomeeting", "microsoft_teams_conference", "custom",
                  "ask_invitee", "webex_conference"}  # fmt: skip
    assert location_types >= spec_types | {None, "zoom"}
    assert {"cancellation" in event for event in served_events} == {True, False}
    assert {event["calendar_event"] is None for event in served_events} == {True, False}
    assert {len(event["event_guests"]) > 0 for event in served_events} == {True, False}
    conferences = [event["location"] for event in served_events
                   if event["location"] and "status" in event["location"]]  # fmt: skip
    assert {conference["status"] for conference in conferences} == {"pushed", "failed"}
    assert {conference["data"] is None for conference in conferences} == {True, False}
    with_data = {conference["type"] for conference in conferences if conference["data"]}
    assert with_data == {"zoom_conference", "zoom", "microsoft_teams_conference",
                         "webex_conference", "gotomeeting"}  # fmt: skip
    teams = [
        conference["data"]
        for conference in conferences
        if conference["type"] == "microsoft_teams_conference" and conference["data"]
    ]
    assert {data["audioConferencing"] is None for data in teams} == {True, False}


def test_every_invitee_validates_and_covers_optional_objects(
    store: Store, served_invitees: list[Resource]
) -> None:
    assert len(served_invitees) == len(store.invitees)
    for field in ("no_show", "payment", "routing_form_submission",
                  "old_invitee", "new_invitee", "text_reminder_number"):  # fmt: skip
        presence = {invitee[field] is None for invitee in served_invitees}
        assert presence == {True, False}, field
    assert {"cancellation" in invitee for invitee in served_invitees} == {True, False}
    assert {invitee["tracking"]["utm_source"] is None for invitee in served_invitees} == {
        True, False,
    }  # fmt: skip
    assert {bool(invitee["questions_and_answers"]) for invitee in served_invitees} == {True, False}
    assert {invitee["status"] for invitee in served_invitees} == {"active", "canceled"}
    assert {invitee["rescheduled"] for invitee in served_invitees} == {True, False}


def test_reconfirmation_present_validates() -> None:
    """The generator never sets reconfirmation (always null above): serve it set by hand."""
    store = generate_organization(seed=7, size="tiny")
    sim = Simulator(store)
    invitees = list(store.invitees.values())[:2]
    invitees[0]["reconfirmation"] = {"created_at": "2025-01-02T03:04:05.000000Z",
                                     "confirmed_at": None}  # fmt: skip
    invitees[1]["reconfirmation"] = {"created_at": "2025-01-02T03:04:05.000000Z",
                                     "confirmed_at": "2025-01-02T05:00:00.000000Z"}  # fmt: skip
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        for invitee in invitees:
            path = f"/scheduled_events/{uuid_of(invitee['event'])}/invitees"
            served = walk_valid(client, "invitees", path)
            assert invitee in served
    invitees[0]["reconfirmation"] = {"confirmed_at": None}
    pagination = {"count": 1, "next_page": None, "previous_page": None,
                  "next_page_token": None, "previous_page_token": None}  # fmt: skip
    assert errors_of("invitees", {"collection": [invitees[0]], "pagination": pagination})


def test_newer_real_fields_are_served(
    served_events: list[Resource], served_invitees: list[Resource]
) -> None:
    canceled = [i for i in served_invitees if "cancellation" in i]
    assert all(
        re.match(r"^\d{4}-\d\d-\d\dT.*Z$", i["cancellation"]["created_at"]) for i in canceled
    )
    assert {i["cancellation"]["canceler_type"] for i in canceled} == {"host", "invitee"}
    notes = [event for event in served_events if "meeting_notes_plain" in event]
    assert notes
    assert all("meeting_notes_html" in event for event in notes)
    assert all("scheduling_method" in i and "invitee_scheduled_by" in i for i in served_invitees)
    memberships = [m for event in served_events for m in event["event_memberships"]]
    assert all({"user", "user_email", "user_name"} <= m.keys() for m in memberships)
    assert "zoom" in {(event["location"] or {}).get("type") for event in served_events}


def test_single_resources_validate(
    store: Store, admin: httpx.Client, served_events: list[Resource],
    served_invitees: list[Resource],
) -> None:  # fmt: skip
    me = get_valid(admin, "user", "/users/me")["resource"]
    for user_uuid in store.users:
        get_valid(admin, "user_by_uuid", f"/users/{user_uuid}")
    get_valid(admin, "organization", f"/organizations/{uuid_of(me['current_organization'])}")
    samples = [e for e in served_events if "cancellation" in e][:3] + [
        e for e in served_events if e["location"] is None
    ][:3]
    for event in samples:
        assert get_valid(admin, "event", f"/scheduled_events/{uuid_of(event['uri'])}") == {
            "resource": event
        }
    picks = [i for i in served_invitees if i["no_show"]][:2] + [
        i for i in served_invitees if i["old_invitee"]
    ][:2]
    for invitee in picks:
        path = f"/scheduled_events/{uuid_of(invitee['event'])}/invitees/{uuid_of(invitee['uri'])}"
        assert get_valid(admin, "invitee", path) == {"resource": invitee}
    for uuid in list(store.event_types)[:5]:
        get_valid(admin, "event_type", f"/event_types/{uuid}")
    for uuid in store.organization_memberships:
        get_valid(admin, "membership", f"/organization_memberships/{uuid}")
    for uuid in store.groups:
        get_valid(admin, "group", f"/groups/{uuid}")
    for uuid in store.routing_forms:
        get_valid(admin, "routing_form", f"/routing_forms/{uuid}")
    for uuid in list(store.routing_form_submissions)[:5]:
        get_valid(admin, "submission", f"/routing_form_submissions/{uuid}")
    for uuid in list(store.no_shows)[:3]:
        get_valid(admin, "no_show", f"/invitee_no_shows/{uuid}")


def test_organization_lists_validate(store: Store, admin: httpx.Client) -> None:
    org = store.organization["uri"]
    assert len(walk_valid(admin, "memberships", "/organization_memberships", organization=org))
    event_types = walk_valid(admin, "event_types", "/event_types", organization=org)
    assert {t["active"] for t in event_types} == {True, False}
    assert {t["kind"] for t in event_types} >= {"solo", "group"}
    assert walk_valid(admin, "groups", "/groups", organization=org)
    forms = walk_valid(admin, "routing_forms", "/routing_forms", organization=org)
    submissions = [
        row for form in forms
        for row in walk_valid(admin, "submissions", "/routing_form_submissions", form=form["uri"])
    ]  # fmt: skip
    assert len(submissions) == len(store.routing_form_submissions) > 0


def test_write_endpoints_and_webhook_reads_validate() -> None:
    store = generate_organization(seed=7, size="small")
    sim = Simulator(store)
    org = store.organization["uri"]
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        hook = {"url": "https://h.example/x", "events": ["invitee.created", "invitee.canceled"],
                "organization": org, "scope": "organization", "signing_key": "k"}  # fmt: skip
        created = client.post("/webhook_subscriptions", json=hook)
        assert created.status_code == 201
        assert errors_of("webhook_created", created.json()) == []
        hook_uuid = uuid_of(created.json()["resource"]["uri"])
        get_valid(client, "webhook", f"/webhook_subscriptions/{hook_uuid}")
        listed = walk_valid(client, "webhooks", "/webhook_subscriptions",
                            organization=org, scope="organization")  # fmt: skip
        assert [row["uri"] for row in listed] == [created.json()["resource"]["uri"]]
        now = store.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        past = next(
            i for i in store.invitees.values()
            if i["status"] == "active" and i["no_show"] is None
            and store.events[uuid_of(i["event"])]["start_time"] < now
        )  # fmt: skip
        marked = client.post("/invitee_no_shows", json={"invitee": past["uri"]})
        assert marked.status_code == 201
        assert errors_of("no_show_created", marked.json()) == []
        future = next(
            e for e in store.events.values() if e["status"] == "active" and e["start_time"] > now
        )
        canceled = client.post(
            f"/scheduled_events/{uuid_of(future['uri'])}/cancellation", json={"reason": "Sick"}
        )
        assert canceled.status_code == 201
        assert errors_of("cancellation_created", canceled.json()) == []
        error = client.get("/scheduled_events")
        assert errors_of("error", error.json()) == []


# ---- the validator really catches broken objects ------------------------------------------


def _first(rows: list[Resource], predicate: Callable[[Resource], bool]) -> Resource:
    return copy.deepcopy(next(row for row in rows if predicate(row)))


def test_validator_rejects_mutated_objects(
    served_events: list[Resource], served_invitees: list[Resource]
) -> None:
    pagination = {"count": 1, "next_page": None, "previous_page": None,
                  "next_page_token": None, "previous_page_token": None}  # fmt: skip

    def invitee_errors(mutate: Callable[[Resource], None]) -> list[str]:
        invitee = _first(served_invitees, lambda i: i["no_show"] is not None)
        mutate(invitee)
        return errors_of("invitees", {"collection": [invitee], "pagination": pagination})

    def event_errors(mutate: Callable[[Resource], None]) -> list[str]:
        event = _first(served_events, lambda e: e["location"] is not None)
        mutate(event)
        return errors_of("events", {"collection": [event], "pagination": pagination})

    assert invitee_errors(lambda i: None) == []
    assert event_errors(lambda e: None) == []
    assert invitee_errors(lambda i: i.pop("email"))
    assert invitee_errors(lambda i: i.pop("no_show"))  # required even when null
    assert invitee_errors(lambda i: i.update(rescheduled="no"))
    assert invitee_errors(lambda i: i.update(tracking=None))
    assert invitee_errors(lambda i: i["no_show"].pop("created_at"))
    assert invitee_errors(lambda i: i.update(created_at="yesterday"))
    assert invitee_errors(lambda i: i.update(status="pending"))
    assert event_errors(lambda e: e.update(start_time=None))
    assert event_errors(lambda e: e.pop("calendar_event"))
    assert event_errors(lambda e: e.update(location={"type": "carrier_pigeon", "location": "x"}))
    assert event_errors(lambda e: e["invitees_counter"].pop("limit"))
    assert event_errors(lambda e: e.update(event_memberships=[{"name": "no user"}]))
    page = {"collection": [], "pagination": {**pagination}}
    del page["pagination"]["next_page_token"]
    assert errors_of("events", page)


def test_optional_fields_the_generator_leaves_unset_validate_when_set() -> None:
    """Event type notes/descriptions, payment terms and user-scope or retrying webhooks.

    The generator always leaves ``internal_note`` null, sets descriptions and never
    sets ``payment.terms``: set the other side by hand so both sides are validated.
    """
    store = generate_organization(seed=7, size="tiny")
    sim = Simulator(store)
    org = store.organization["uri"]
    noted, plain = list(store.event_types.values())[:2]
    noted["internal_note"] = "Qualify before booking"
    plain.update(description_plain=None, description_html=None)
    paid = next(iter(store.invitees.values()))
    paid["payment"] = {"external_id": "ch_1", "provider": "stripe", "amount": 25.0,
                       "currency": "USD", "terms": "Refundable", "successful": True}  # fmt: skip
    me = uri_of("users", store.personal_access_tokens[sim.admin_token])
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        for event_type in (noted, plain):
            served = get_valid(client, "event_type", f"/event_types/{uuid_of(event_type['uri'])}")
            assert served == {"resource": event_type}
        path = f"/scheduled_events/{uuid_of(paid['event'])}/invitees"
        assert paid in walk_valid(client, "invitees", path)
        hook = {"url": "https://h.example/u", "events": ["invitee.created"],
                "organization": org, "user": me, "scope": "user"}  # fmt: skip
        created = client.post("/webhook_subscriptions", json=hook)
        assert created.status_code == 201, created.text
        assert errors_of("webhook_created", created.json()) == []
        resource = created.json()["resource"]
        assert (resource["scope"], resource["user"]) == ("user", me)
        stored = store.webhook_subscriptions[uuid_of(resource["uri"])]
        stored["retry_started_at"] = "2026-01-15T11:00:00.000000Z"
        listed = walk_valid(client, "webhooks", "/webhook_subscriptions",
                            organization=org, user=me, scope="user")  # fmt: skip
        assert [row["retry_started_at"] for row in listed] == ["2026-01-15T11:00:00.000000Z"]
    plain["description_plain"] = 42
    pagination = {"count": 1, "next_page": None, "previous_page": None,
                  "next_page_token": None, "previous_page_token": None}  # fmt: skip
    assert errors_of("event_types", {"collection": [plain], "pagination": pagination})
