"""Simulator webhook rules: event_type.* events, 410 deletes, redirects fail, plan features."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest

from calendly_elt.simulator import Simulator, event_type_mutations
from calendly_elt.simulator.scenarios import DEMO, MAX, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import SimulatorError, Store, format_ts, uri_of
from calendly_elt.simulator.webhook_plans import plan_refusal
from calendly_elt.simulator.webhooks import SEND_TIMEOUT, WebhookDispatcher, httpx_sender

ALL_EVENT_TYPE_EVENTS = ["event_type.created", "event_type.updated", "event_type.deleted"]


class Recorder:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.bodies: list[dict] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        self.bodies.append(json.loads(body))
        return self.statuses.pop(0) if self.statuses else 200


def _subscribe(store: Store, events: list[str], scope: str = "organization",
               user: str | None = None) -> str:  # fmt: skip
    uuid = f"5c000000-0000-4000-8000-0000000000{len(store.webhook_subscriptions):02d}"
    now = format_ts(store.clock.now())
    store.webhook_subscriptions[uuid] = {
        "uri": uri_of("webhook_subscriptions", uuid), "callback_url": "https://hooks.example/x",
        "created_at": now, "updated_at": now, "retry_started_at": None, "state": "active",
        "events": events, "scope": scope, "organization": store.organization["uri"],
        "user": user, "group": None, "creator": uri_of("users", OLIVIA),
    }  # fmt: skip
    store.webhook_signing_keys[uuid] = "key"
    return uuid


@pytest.fixture
def store() -> Store:
    return build_tiny_organization()


def test_event_type_changes_are_delivered_as_event_type_events(store: Store) -> None:
    receiver = Recorder()
    WebhookDispatcher(store, send=receiver)
    _subscribe(store, ALL_EVENT_TYPE_EVENTS)
    created = event_type_mutations.create_event_type(store, OLIVIA, "Office Hours", duration=45)
    event_type_mutations.update_event_type(store, DEMO, name="Product Demo (new)")
    event_type_mutations.delete_event_type(store, DEMO)
    assert [body["event"] for body in receiver.bodies] == ALL_EVENT_TYPE_EVENTS
    assert receiver.bodies[0]["payload"]["uri"] == created["uri"]
    assert receiver.bodies[0]["payload"]["duration"] == 45
    assert receiver.bodies[1]["payload"]["name"] == "Product Demo (new)"
    assert receiver.bodies[2]["payload"]["deleted_at"] == format_ts(store.clock.now())
    assert store.event_types[DEMO]["active"] is False
    with pytest.raises(SimulatorError) as deleted_again:
        event_type_mutations.delete_event_type(store, DEMO)
    assert deleted_again.value.status == 404
    with pytest.raises(SimulatorError):
        event_type_mutations.update_event_type(store, created["uri"][-36:], kind="group")


def test_user_scope_gets_only_its_own_event_types(store: Store) -> None:
    receiver = Recorder()
    WebhookDispatcher(store, send=receiver)
    _subscribe(store, ["event_type.created"], scope="user", user=uri_of("users", MAX))
    event_type_mutations.create_event_type(store, OLIVIA, "Olivia's")
    event_type_mutations.create_event_type(store, MAX, "Max's")
    assert [body["payload"]["name"] for body in receiver.bodies] == ["Max's"]


def test_a_410_answer_deletes_the_subscription(store: Store) -> None:
    dispatcher = WebhookDispatcher(store, send=Recorder(statuses=[410]))
    uuid = _subscribe(store, ["event_type.created"])
    event_type_mutations.create_event_type(store, OLIVIA, "Gone")
    assert uuid not in store.webhook_subscriptions
    assert uuid not in store.webhook_signing_keys
    assert dispatcher.pending == []
    event_type_mutations.create_event_type(store, OLIVIA, "After")
    assert len(dispatcher.attempts) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 404, 500])
def test_redirects_and_errors_are_failures_that_are_retried(store: Store, status: int) -> None:
    dispatcher = WebhookDispatcher(store, send=Recorder(statuses=[status]))
    uuid = _subscribe(store, ["event_type.created"])
    event_type_mutations.create_event_type(store, OLIVIA, "Retry me")
    assert store.webhook_subscriptions[uuid]["retry_started_at"] is not None
    assert len(dispatcher.pending) == 1


def test_http_sender_does_not_follow_redirects_and_uses_calendlys_timeouts() -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert httpx_sender(url, {"Content-Type": "application/json"}, b"{}") == 302
    finally:
        server.shutdown()
        server.server_close()
    assert (SEND_TIMEOUT.connect, SEND_TIMEOUT.read) == (10.0, 15.0)


def test_plan_rules() -> None:
    before = datetime(2026, 6, 1, tzinfo=UTC)
    after = datetime(2026, 11, 3, tzinfo=UTC)
    assert plan_refusal("basic", ["invitee.created"], before) is not None
    assert plan_refusal("basic", ["invitee.created", "event_type.updated"], after) is None
    refusal = plan_refusal("standard", ["routing_form_submission.created"], after)
    assert refusal is not None and "Teams" in refusal
    assert plan_refusal("teams", ["routing_form_submission.created"], after) is None
    assert plan_refusal("enterprise", ["routing_form_submission.created"], before) is None


def test_api_refuses_routing_form_events_on_a_plan_without_them(store: Store) -> None:
    store.organization["plan"] = "standard"
    sim = Simulator(store)
    client = httpx.Client(transport=sim.transport(), base_url="https://api.calendly.com",
                          headers={"Authorization": f"Bearer {sim.admin_token}"})  # fmt: skip
    body = {"url": "https://hooks.example/plan", "organization": store.organization["uri"],
            "scope": "organization", "events": ["routing_form_submission.created"]}  # fmt: skip
    refused = client.post("/webhook_subscriptions", json=body)
    assert refused.status_code == 403
    assert refused.json()["title"] == "Permission Denied"
    allowed = client.post("/webhook_subscriptions", json={**body, "events": ["event_type.deleted"]})
    assert allowed.status_code == 201
    assert allowed.json()["resource"]["events"] == ["event_type.deleted"]
