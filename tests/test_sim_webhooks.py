"""Webhook signatures, fan-out by scope, retries in simulated time, disabling."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from calendly_elt.simulator import mutations
from calendly_elt.simulator.scenarios import DEMO, INTRO, MAX, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import Store, format_ts, uri_of, uuid_of
from calendly_elt.simulator.webhooks import SIGNATURE_HEADER, WebhookDispatcher, sign, verify

KEY = "whsec-test-key"


class FakeReceiver:
    """Records deliveries and answers with scripted statuses (then 200)."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.received: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        self.received.append((url, headers, body))
        return self.statuses.pop(0) if self.statuses else self.default

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for _, _, body in self.received]


def _subscribe(store: Store, name: str, events: list[str], scope: str = "organization",
               **scope_fields: str) -> str:  # fmt: skip
    uuid = f"5b000000-0000-4000-8000-0000000000{len(store.webhook_subscriptions):02d}"
    now = format_ts(store.clock.now())
    store.webhook_subscriptions[uuid] = {
        "uri": uri_of("webhook_subscriptions", uuid), "callback_url": f"https://hooks.example/{name}",
        "created_at": now, "updated_at": now, "retry_started_at": None, "state": "active",
        "events": events, "scope": scope, "organization": store.organization["uri"],
        "user": scope_fields.get("user"), "group": scope_fields.get("group"),
        "creator": uri_of("users", OLIVIA),
    }  # fmt: skip
    store.webhook_signing_keys[uuid] = f"{KEY}-{name}"
    return uuid


def _book(store: Store, event_type: str = DEMO, days: int = 3) -> dict:
    start = (store.clock.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return mutations.book(store, event_type_uuid=event_type, start_time=start,
                          email="hook@example.com", name="Hook Person")  # fmt: skip


@pytest.fixture
def store() -> Store:
    return build_tiny_organization()


# ---- signatures ----------------------------------------------------------------------


def test_signature_format_and_verification() -> None:
    body = b'{"event":"invitee.created"}'
    header = sign(KEY, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify(KEY, header, body, now=1_700_000_100)


def test_delivered_signature_is_the_documented_hmac(store: Store) -> None:
    """Recompute Calendly's scheme by hand: v1 = HMAC-SHA256(key, t + "." + raw body)."""
    receiver = FakeReceiver()
    WebhookDispatcher(store, send=receiver)
    uuid = _subscribe(store, "org", ["invitee.created"])
    _book(store)
    ((_, headers, raw),) = receiver.received
    header = headers["Calendly-Webhook-Signature"]
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match, header
    assert int(match[1]) == int(store.clock.now().timestamp())
    key = store.webhook_signing_keys[uuid].encode()
    expected = hmac.new(key, match[1].encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert match[2] == expected


def test_tampered_body_wrong_key_old_or_malformed_header_rejected() -> None:
    body = b'{"event":"invitee.created"}'
    header = sign(KEY, 1_700_000_000, body)
    assert not verify(KEY, header, body + b" ", now=1_700_000_000)
    assert not verify("other-key", header, body, now=1_700_000_000)
    assert not verify(KEY, header, body, now=1_700_000_181)
    assert verify(KEY, header, body, now=1_700_000_180)
    assert not verify(KEY, "v1=abc", body, now=1_700_000_000)
    assert not verify(KEY, "", body, now=1_700_000_000)


# ---- fan-out ---------------------------------------------------------------------------


def test_delivery_is_signed_with_the_subscriptions_key(store: Store) -> None:
    receiver = FakeReceiver()
    WebhookDispatcher(store, send=receiver)
    uuid = _subscribe(store, "org", ["invitee.created"])
    invitee = _book(store)
    ((url, headers, raw),) = receiver.received
    assert url == "https://hooks.example/org"
    key = store.webhook_signing_keys[uuid]
    assert verify(key, headers[SIGNATURE_HEADER], raw, now=store.clock.now())
    assert not verify(KEY, headers[SIGNATURE_HEADER], raw, now=store.clock.now())
    body = json.loads(raw)
    assert set(body) == {"event", "created_at", "created_by", "payload"}
    assert body["event"] == "invitee.created"
    assert body["created_at"] == format_ts(store.clock.now())
    assert body["created_by"] == uri_of("users", OLIVIA)
    assert body["payload"]["uri"] == invitee["uri"]
    assert body["payload"]["scheduled_event"]["uri"] == invitee["event"]


def test_fan_out_by_event_name_and_scope(store: Store) -> None:
    receiver = FakeReceiver()
    WebhookDispatcher(store, send=receiver)
    group_uuid = "9a000000-0000-4000-8000-000000000001"
    store.group_members[group_uuid] = [OLIVIA]
    _subscribe(store, "cancels", ["invitee.canceled"])
    _subscribe(store, "max", ["invitee.created"], scope="user", user=uri_of("users", MAX))
    _subscribe(store, "olivia-group", ["invitee.created"], scope="group",
               group=uri_of("groups", group_uuid))  # fmt: skip
    disabled = _subscribe(store, "disabled", ["invitee.created", "invitee.canceled"])
    store.webhook_subscriptions[disabled]["state"] = "disabled"
    demo = _book(store, DEMO)  # hosted by Max
    _book(store, INTRO, days=4)  # hosted by Olivia
    mutations.cancel_invitee(store, uuid_of(demo["uri"]))
    urls = [url.rsplit("/", 1)[1] for url, _, _ in receiver.received]
    assert urls == ["max", "olivia-group", "cancels"]


def test_reschedule_arrives_as_canceled_then_created(store: Store) -> None:
    receiver = FakeReceiver()
    WebhookDispatcher(store, send=receiver)
    _subscribe(store, "all", ["invitee.created", "invitee.canceled"])
    invitee = _book(store)
    mutations.reschedule(store, uuid_of(invitee["uri"]),
                         new_start_time=store.clock.now() + timedelta(days=9))  # fmt: skip
    assert receiver.events() == ["invitee.created", "invitee.canceled", "invitee.created"]
    canceled = json.loads(receiver.received[1][2])["payload"]
    assert canceled["rescheduled"] is True and canceled["new_invitee"]


def test_no_show_events_are_delivered(store: Store) -> None:
    receiver = FakeReceiver()
    WebhookDispatcher(store, send=receiver)
    _subscribe(store, "ns", ["invitee_no_show.created", "invitee_no_show.deleted"])
    held = next(i for i in store.invitees.values() if i["email"] == "at-asof@example.com")
    no_show = mutations.mark_no_show(store, uuid_of(held["uri"]))
    mutations.unmark_no_show(store, uuid_of(no_show["uri"]))
    assert receiver.events() == ["invitee_no_show.created", "invitee_no_show.deleted"]


# ---- retries ----------------------------------------------------------------------------


def test_failed_delivery_is_retried_with_backoff(store: Store) -> None:
    receiver = FakeReceiver(statuses=[500, 503])
    dispatcher = WebhookDispatcher(store, send=receiver)
    uuid = _subscribe(store, "flaky", ["invitee.created"])
    _book(store)
    started = store.clock.now()
    assert store.webhook_subscriptions[uuid]["retry_started_at"] == format_ts(started)
    assert dispatcher.retry_due() == 0 and len(receiver.received) == 1
    assert dispatcher.next_retry_at() == started + timedelta(minutes=1)
    store.clock.advance(timedelta(minutes=1))
    assert dispatcher.retry_due() == 0  # 503, next in 2 min
    assert dispatcher.next_retry_at() == started + timedelta(minutes=3)
    store.clock.advance(timedelta(minutes=1))
    assert dispatcher.retry_due() == 0 and len(receiver.received) == 2
    store.clock.advance(timedelta(minutes=1))
    assert dispatcher.retry_due() == 1
    assert len(receiver.received) == 3 and dispatcher.pending == []
    assert store.webhook_subscriptions[uuid]["retry_started_at"] is None
    bodies = {raw for _, _, raw in receiver.received}
    assert len(bodies) == 1  # the same event each time, re-signed per attempt


def test_background_sender_retries_like_the_synchronous_one(store: Store) -> None:
    receiver = FakeReceiver(statuses=[500, 503])
    dispatcher = WebhookDispatcher(store, send=receiver, background=True)
    uuid = _subscribe(store, "flaky", ["invitee.created"])
    _book(store)
    started = store.clock.now()
    dispatcher.flush()
    assert len(receiver.received) == 1
    assert dispatcher.next_retry_at() == started + timedelta(minutes=1)
    store.clock.advance(timedelta(minutes=1))
    dispatcher.retry_due()
    assert dispatcher.pending[0].in_flight or len(receiver.received) == 2
    assert dispatcher.retry_due() == 0  # in flight or not yet due: never sent twice
    dispatcher.flush()
    assert len(receiver.received) == 2
    assert dispatcher.next_retry_at() == started + timedelta(minutes=3)
    store.clock.advance(timedelta(minutes=2))
    dispatcher.retry_due()
    dispatcher.flush()
    assert len(receiver.received) == 3 and dispatcher.pending == []
    assert store.webhook_subscriptions[uuid]["retry_started_at"] is None
    assert [attempt.status for attempt in dispatcher.attempts] == [500, 503, 200]
    dispatcher.close()


def test_subscription_disabled_after_24_hours_of_failures(store: Store) -> None:
    receiver = FakeReceiver(default=500)
    dispatcher = WebhookDispatcher(store, send=receiver)
    uuid = _subscribe(store, "dead", ["invitee.created"])
    _book(store)
    started = store.clock.now()
    while store.webhook_subscriptions[uuid]["state"] == "active":
        due = dispatcher.next_retry_at()
        assert due is not None and due - started <= timedelta(hours=25)
        store.clock.set(due)
        dispatcher.retry_due()
    subscription = store.webhook_subscriptions[uuid]
    assert store.clock.now() - started >= timedelta(hours=24)
    assert subscription["updated_at"] == format_ts(store.clock.now())
    assert dispatcher.pending == [] and 15 <= len(receiver.received) <= 40
    attempts = len(receiver.received)
    _book(store, days=5)
    assert len(receiver.received) == attempts


def test_default_sender_posts_over_http(store: Store) -> None:
    seen: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers[SIGNATURE_HEADER], raw))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dispatcher = WebhookDispatcher(store)
        uuid = _subscribe(store, "real", ["invitee.created"])
        store.webhook_subscriptions[uuid]["callback_url"] = (
            f"http://127.0.0.1:{server.server_port}/"
        )
        _book(store)
    finally:
        server.shutdown()
        server.server_close()
    ((header, raw),) = seen
    assert verify(store.webhook_signing_keys[uuid], header, raw, now=store.clock.now())
    assert dispatcher.pending == [] and dispatcher.attempts[0].status == 204
