"""The simulator's write endpoints and what the API returns after them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.store import Resource, Store, format_ts, uri_of, uuid_of

BASE = "https://api.calendly.com"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(
        generate_organization(seed=7, size="small"), SimConfig(requests_per_minute=10**6)
    )


@pytest.fixture
def admin(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        yield client


@pytest.fixture
def member(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sim.member_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        yield client


def now_text(store: Store) -> str:
    return format_ts(store.clock.now())


def past_active_invitee(store: Store) -> Resource:
    return next(
        invitee for invitee in store.invitees.values()
        if invitee["status"] == "active" and invitee["no_show"] is None
        and store.events[uuid_of(invitee["event"])]["start_time"] < now_text(store)
    )  # fmt: skip


def future_event(store: Store, host: str | None = None) -> Resource:
    return next(
        event for event in store.events.values()
        if event["status"] == "active" and event["start_time"] > now_text(store)
        and (host is None or host not in [m["user"] for m in event["event_memberships"]])
    )  # fmt: skip


def invitee_path(invitee: Resource) -> str:
    return f"/scheduled_events/{uuid_of(invitee['event'])}/invitees/{uuid_of(invitee['uri'])}"


def test_no_show_mark_and_unmark(sim: Simulator, admin: httpx.Client) -> None:
    invitee = past_active_invitee(sim.store)
    before = admin.get(invitee_path(invitee)).json()["resource"]
    marked = admin.post("/invitee_no_shows", json={"invitee": invitee["uri"]})
    assert marked.status_code == 201
    no_show = marked.json()["resource"]
    assert no_show["invitee"] == invitee["uri"]
    assert no_show["created_at"] == now_text(sim.store)
    after = admin.get(invitee_path(invitee)).json()["resource"]
    assert after["no_show"] == {"uri": no_show["uri"], "created_at": no_show["created_at"]}
    assert after["updated_at"] == before["updated_at"]  # a no-show mark does not touch it
    no_show_path = f"/invitee_no_shows/{uuid_of(no_show['uri'])}"
    assert admin.get(no_show_path).json() == {"resource": no_show}
    deleted = admin.delete(no_show_path)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert admin.get(invitee_path(invitee)).json()["resource"]["no_show"] is None
    assert admin.get(no_show_path).status_code == 404


def test_no_show_refusals(sim: Simulator, admin: httpx.Client) -> None:
    upcoming = sim.store.invitees_of(uuid_of(future_event(sim.store)["uri"]))[0]
    early = admin.post("/invitee_no_shows", json={"invitee": upcoming["uri"]})
    assert early.status_code == 400
    assert early.json()["title"] == "Invalid Argument"
    missing = admin.post("/invitee_no_shows", json={"invitee": f"{BASE}/x/invitees/NOPE"})
    assert missing.status_code == 404
    assert admin.post("/invitee_no_shows", json={}).status_code == 400


def test_host_cancellation(sim: Simulator, admin: httpx.Client) -> None:
    event = future_event(sim.store)
    path = f"/scheduled_events/{uuid_of(event['uri'])}"
    response = admin.post(f"{path}/cancellation", json={"reason": "Out sick"})
    assert response.status_code == 201
    cancellation = response.json()["resource"]
    admin_name = sim.store.users[sim.store.personal_access_tokens[sim.admin_token]]["name"]
    assert cancellation == {"canceled_by": admin_name, "reason": "Out sick",
                            "canceler_type": "host", "created_at": now_text(sim.store)}  # fmt: skip
    served = admin.get(path).json()["resource"]
    assert served["status"] == "canceled"
    assert served["cancellation"] == cancellation
    invitees = admin.get(f"{path}/invitees").json()["collection"]
    assert invitees
    assert all(i["status"] == "canceled" for i in invitees)
    again = admin.post(f"{path}/cancellation", json={})
    assert again.status_code == 403
    assert again.json() == {"title": "Permission Denied", "message": "Event is already canceled"}
    past = next(e for e in sim.store.events.values() if e["start_time"] < now_text(sim.store)
                and e["status"] == "active")  # fmt: skip
    late = admin.post(f"/scheduled_events/{uuid_of(past['uri'])}/cancellation", json={})
    assert late.json() == {"title": "Permission Denied", "message": "Event in the past"}


def test_member_cannot_cancel_someone_elses_event(sim: Simulator, member: httpx.Client) -> None:
    me = uri_of("users", sim.store.personal_access_tokens[sim.member_token])
    event = future_event(sim.store, host=me)
    response = member.post(f"/scheduled_events/{uuid_of(event['uri'])}/cancellation", json={})
    assert response.status_code == 403
    assert response.json()["message"] == "You are not allowed to cancel this event"
    assert sim.store.events[uuid_of(event["uri"])]["status"] == "active"


def test_webhook_subscription_lifecycle(sim: Simulator, admin: httpx.Client) -> None:
    org = sim.store.organization["uri"]
    body = {"url": "https://hooks.example/calendly", "events": ["invitee.created"],
            "organization": org, "scope": "organization", "signing_key": "topsecret"}  # fmt: skip
    created = admin.post("/webhook_subscriptions", json=body)
    assert created.status_code == 201
    hook = created.json()["resource"]
    assert (hook["callback_url"], hook["state"], hook["scope"]) == (
        body["url"],
        "active",
        "organization",
    )
    assert "topsecret" not in created.text
    assert sim.store.webhook_signing_keys[uuid_of(hook["uri"])] == "topsecret"
    duplicate = admin.post("/webhook_subscriptions", json=body)
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "title": "Already Exists",
        "message": "Hook with this url already exists",
    }
    me = uri_of("users", sim.store.personal_access_tokens[sim.admin_token])
    user_scope = admin.post("/webhook_subscriptions", json={**body, "scope": "user", "user": me})
    assert user_scope.status_code == 201  # same URL, other scope
    listed = admin.get("/webhook_subscriptions", params={"organization": org, "scope": "user",
                                                         "user": me}).json()  # fmt: skip
    assert [h["uri"] for h in listed["collection"]] == [user_scope.json()["resource"]["uri"]]
    path = f"/webhook_subscriptions/{uuid_of(hook['uri'])}"
    assert admin.delete(path).status_code == 204
    assert admin.get(path).status_code == 404
    assert uuid_of(hook["uri"]) not in sim.store.webhook_signing_keys


def test_webhook_validation_and_permissions(
    sim: Simulator, admin: httpx.Client, member: httpx.Client
) -> None:
    org = sim.store.organization["uri"]
    body = {"url": "https://hooks.example/x", "events": ["invitee.created"],
            "organization": org, "scope": "organization"}  # fmt: skip
    for broken, parameter in (({**body, "events": []}, "events"),
                              ({**body, "events": ["invitee.rescheduled"]}, "events"),
                              ({**body, "scope": "user"}, "user"),
                              ({k: v for k, v in body.items() if k != "url"}, "url")):  # fmt: skip
        response = admin.post("/webhook_subscriptions", json=broken)
        assert response.status_code == 400, broken
        assert response.json()["details"][0]["parameter"] == parameter
    forbidden = member.post("/webhook_subscriptions", json=body)
    assert forbidden.status_code == 403
    assert admin.get("/webhook_subscriptions", params={"organization": org}).status_code == 400


def test_data_compliance_deletion(
    sim: Simulator, admin: httpx.Client, member: httpx.Client
) -> None:
    org = sim.store.organization["uri"]
    email = next(iter(sim.store.invitees.values()))["email"]
    params = {"organization": org, "invitee_email": email}
    assert admin.get("/scheduled_events", params=params).json()["collection"]
    refused = member.post("/data_compliance/deletion/invitees", json={"emails": [email]})
    assert refused.status_code == 403
    accepted = admin.post("/data_compliance/deletion/invitees", json={"emails": [email]})
    assert (accepted.status_code, accepted.json()) == (202, {})
    assert admin.get("/scheduled_events", params=params).json()["collection"] == []
    assert all(i["email"] != email for i in sim.store.invitees.values())
    bad = admin.post("/data_compliance/deletion/invitees", json={"emails": "x@example.com"})
    assert bad.status_code == 400


def test_api_mutations_deliver_signed_webhooks() -> None:
    from calendly_elt.simulator.webhooks import SIGNATURE_HEADER, verify

    store = generate_organization(seed=7, size="small")
    sim = Simulator(store, SimConfig(deliver_webhooks=True))
    assert sim.webhooks is not None
    sent: list[tuple[str, dict[str, str], bytes]] = []

    def record(url: str, headers: dict[str, str], body: bytes) -> int:
        sent.append((url, headers, body))
        return 200

    sim.webhooks.send = record
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    with httpx.Client(transport=sim.transport(), base_url=BASE, headers=headers) as client:
        hook = {"url": "https://hooks.example/in", "organization": store.organization["uri"],
                "events": ["invitee.canceled", "invitee_no_show.created"],
                "scope": "organization", "signing_key": "k-123"}  # fmt: skip
        assert client.post("/webhook_subscriptions", json=hook).status_code == 201
        event = future_event(store)
        client.post(f"/scheduled_events/{uuid_of(event['uri'])}/cancellation", json={})
        invitee = past_active_invitee(store)
        client.post("/invitee_no_shows", json={"invitee": invitee["uri"]})
    sim.webhooks.flush()
    canceled = store.invitees_of(uuid_of(event["uri"]))
    names = [httpx.Response(200, content=body).json()["event"] for _, _, body in sent]
    assert names == ["invitee.canceled"] * len(canceled) + ["invitee_no_show.created"]
    for url, sent_headers, body in sent:
        assert url == "https://hooks.example/in"
        signature = sent_headers[SIGNATURE_HEADER]
        assert verify("k-123", signature, body, store.clock.now())
        assert not verify("another-key", signature, body, store.clock.now())
    last = httpx.Response(200, content=sent[-1][2]).json()
    assert last["payload"]["uri"] == invitee["uri"]


def test_a_receiver_that_does_not_answer_does_not_stall_the_api() -> None:
    """Deliveries leave the store lock: the API answers while a receiver hangs, even
    the receiver's own call back into the API made before it answers."""
    store = generate_organization(seed=7, size="tiny")
    sim = Simulator(store, SimConfig(deliver_webhooks=True))
    assert sim.webhooks is not None
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    release = threading.Event()
    callback_status: list[int] = []

    def hanging_receiver(url: str, hook_headers: dict[str, str], body: bytes) -> int:
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as caller:
            callback_status.append(caller.get("/users/me").status_code)
        release.wait(timeout=30)
        return 200

    sim.webhooks.send = hanging_receiver
    with (
        sim.serve() as base_url,
        httpx.Client(base_url=base_url, headers=headers, timeout=10) as client,
    ):
        hook = {"url": "https://hooks.example/in", "organization": store.organization["uri"],
                "events": ["invitee_no_show.created"], "scope": "organization"}  # fmt: skip
        assert client.post("/webhook_subscriptions", json=hook).status_code == 201
        invitee = past_active_invitee(store)
        marked = client.post("/invitee_no_shows", json={"invitee": invitee["uri"]})
        assert marked.status_code == 201
        assert client.get("/users/me").status_code == 200  # while the receiver still hangs
        assert not release.is_set()
        release.set()
        sim.webhooks.flush()
    assert callback_status == [200]
    assert [attempt.status for attempt in sim.webhooks.attempts] == [200]
    assert sim.webhooks.pending == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/invitee_no_shows", b"[]"),
        ("/data_compliance/deletion/invitees", b"[1]"),
        ("/webhook_subscriptions", b'"text"'),
        ("/invitee_no_shows", b"{not json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(
    admin: httpx.Client, path: str, body: bytes
) -> None:
    response = admin.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Argument"
    assert response.json()["message"] in (
        "The request body must be a JSON object.",
        "The request body is not valid JSON.",
    )


def test_a_simulator_bug_answers_calendlys_500_body(
    sim: Simulator, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(call: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(sim.api, "_get_me", broken)
    response = admin.get("/users/me")
    assert response.status_code == 500
    assert response.json()["title"] == "Internal Server Error"
    organization = sim.store.organization["uri"]
    others = admin.get("/event_types", params={"organization": organization})
    assert others.status_code == 200  # the server lives on


def test_webhooks_are_not_delivered_unless_asked(sim: Simulator) -> None:
    assert sim.webhooks is None
    assert sim.store.listeners == []
