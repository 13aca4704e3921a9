"""Webhook deliveries of the simulator, signed and retried like Calendly's.

Every mutation calls ``store.notify(event_name, payload)``. A
``WebhookDispatcher`` listens there and POSTs
``{"event", "created_at", "created_by", "payload"}`` to each active
subscription that wants the event and whose scope covers it (organization;
user = one of the event's hosts; group = a host belongs to the group), with
the header ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>`` where
``v1 = HMAC-SHA256(signing_key, f"{t}." + raw_body)``.

A delivery answered with a non-2xx status (or not answered) is queued and
retried with exponential backoff in *simulated* time: ``retry_due()`` sends
what is due at the clock's now. After 24 h of failures the subscription's
``state`` becomes ``disabled`` and its queued deliveries are dropped. A
``410 Gone`` answer deletes the subscription at once, as Calendly does; a
redirect is a failure like any other non-2xx (it is not followed). The HTTP
sender connects with a 10 s timeout and reads with 15 s, Calendly's figures.

The plan rules of ``POST /webhook_subscriptions`` live in ``webhook_plans``.

By default deliveries happen synchronously inside the mutation (under the
store lock), which keeps tests deterministic. With ``background=True`` (what
``SimConfig(deliver_webhooks=True)`` and ``sim serve`` use) the body is built
inside the mutation but signed (at the clock's then-now) and POSTed by a
sender thread outside the lock, so a slow receiver, or one that calls back into the API before
answering, never stalls the API; ``flush()`` waits for the queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from calendly_elt.simulator.store import Resource, Store, format_ts, uuid_of

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Calendly-Webhook-Signature"
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=1)
SEND_TIMEOUT = httpx.Timeout(15.0, connect=10.0)
GONE = 410

Sender = Callable[[str, dict[str, str], bytes], int]


# ---- signatures ------------------------------------------------------------------


def sign(signing_key: str, timestamp: int, raw_body: bytes) -> str:
    """The ``Calendly-Webhook-Signature`` header value for ``raw_body`` sent at ``timestamp``.

    Args:
        signing_key: The subscription's signing key.
        timestamp: Unix seconds of the delivery.
        raw_body: The exact bytes of the request body.

    Returns:
        ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>``.
    """
    message = f"{timestamp}.".encode() + raw_body
    digest = hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _parse_header(header: str) -> tuple[int, str] | None:
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        return int(parts["t"]), parts["v1"]
    except (KeyError, ValueError):
        return None


def verify(
    signing_key: str,
    header: str,
    raw_body: bytes,
    now: datetime | float,
    tolerance_s: int = 180,
) -> bool:
    """Check a ``Calendly-Webhook-Signature`` header as a receiver must.

    Args:
        signing_key: The subscription's signing key.
        header: The header value (``t=...,v1=...``).
        raw_body: The exact bytes received.
        now: The receiver's current time (datetime or unix seconds).
        tolerance_s: Maximum age (and clock skew) of ``t`` in seconds.

    Returns:
        True only if the signature matches and ``t`` is within the tolerance.
    """
    parsed = _parse_header(header or "")
    if parsed is None:
        return False
    timestamp, received = parsed
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(signing_key, timestamp, raw_body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, received)


# ---- delivery ----------------------------------------------------------------------


def httpx_sender(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST with httpx, redirects not followed; no answer (or a timeout) counts as status 0."""
    try:
        return httpx.post(url, content=body, headers=headers, timeout=SEND_TIMEOUT).status_code
    except httpx.HTTPError as error:
        logger.info("webhook delivery to %s failed: %s", url, type(error).__name__)
        return 0


@dataclass
class Delivery:
    """One webhook event for one subscription, possibly awaiting a retry."""

    subscription_uuid: str
    event_name: str
    body: Resource
    first_failed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0
    in_flight: bool = False


@dataclass(frozen=True)
class Attempt:
    """A record of one POST (for inspection in tests and logs)."""

    subscription_uuid: str
    event_name: str
    at: datetime
    status: int


class WebhookDispatcher:
    """Fans store notifications out to webhook subscriptions, with retries."""

    def __init__(self, store: Store, send: Sender | None = None, *, background: bool = False):
        """Register on ``store.listeners``.

        Args:
            store: The organization whose mutations are delivered.
            send: POSTs one delivery and returns the status (0: no answer);
                defaults to an httpx POST.
            background: POST from a sender thread, outside the store lock.
        """
        self.store = store
        self.send: Sender = send or httpx_sender
        self.pending: list[Delivery] = []
        self.attempts: list[Attempt] = []
        self._outbox: queue.Queue[_Outgoing | None] | None = None
        if background:
            self._outbox = queue.Queue()
            threading.Thread(target=self._send_outbox, name="webhook-sender", daemon=True).start()
        store.listeners.append(self)

    def close(self) -> None:
        """Stop listening to the store (queued retries are dropped)."""
        if self in self.store.listeners:
            self.store.listeners.remove(self)
        self.pending.clear()
        if self._outbox is not None:
            self._outbox.put(None)

    def flush(self) -> None:
        """Wait until every delivery handed to the sender thread is sent and recorded."""
        if self._outbox is not None:
            self._outbox.join()

    def __call__(self, event_name: str, payload: Resource) -> None:
        """Listener entry point: deliver ``event_name`` to every matching subscription."""
        now = self.store.clock.now()
        for uuid, subscription in list(self.store.webhook_subscriptions.items()):
            if self._wants(subscription, event_name, payload):
                body = {
                    "event": event_name,
                    "created_at": format_ts(now),
                    "created_by": subscription.get("creator") or subscription.get("user"),
                    "payload": payload,
                }
                self._attempt(Delivery(uuid, event_name, body), now)

    # -- matching -----------------------------------------------------------------

    def _wants(self, subscription: Resource, event_name: str, payload: Resource) -> bool:
        if subscription.get("state") != "active" or event_name not in subscription["events"]:
            return False
        if subscription.get("organization") != self.store.organization.get("uri"):
            return False
        scope = subscription.get("scope")
        if scope == "organization":
            return True
        hosts = _hosts_of(payload)
        if scope == "user":
            return subscription.get("user") in hosts
        if scope == "group":
            members = self.store.group_members.get(uuid_of(subscription.get("group") or ""), [])
            return any(uuid_of(host) in members for host in hosts)
        return False

    # -- sending ------------------------------------------------------------------

    def _attempt(self, delivery: Delivery, now: datetime) -> bool:
        """Send now (or queue for the sender thread); True if delivered now."""
        subscription = self.store.webhook_subscriptions.get(delivery.subscription_uuid)
        key = self.store.webhook_signing_keys.get(delivery.subscription_uuid)
        if subscription is None or key is None:
            return False
        raw_body = json.dumps(delivery.body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(key, int(now.timestamp()), raw_body),
        }
        outgoing = _Outgoing(delivery, now, subscription["callback_url"], headers, raw_body, key)
        if self._outbox is not None:
            delivery.in_flight = True
            self._outbox.put(outgoing)
            return False
        return self._record(delivery, now, self.send(outgoing.url, headers, raw_body))

    def _send_outbox(self) -> None:
        """Sender thread: POST queued deliveries outside the lock, record under it."""
        assert self._outbox is not None
        while (outgoing := self._outbox.get()) is not None:
            try:
                try:
                    status = self.send(outgoing.url, self._signed_now(outgoing), outgoing.body)
                except Exception:  # the sender thread must outlive one bad delivery
                    logger.exception("webhook delivery to %s failed", outgoing.url)
                    status = 0
                with self.store.lock:
                    outgoing.delivery.in_flight = False
                    self._record(outgoing.delivery, outgoing.at, status)
            finally:
                self._outbox.task_done()
        self._outbox.task_done()

    def _signed_now(self, outgoing: _Outgoing) -> dict[str, str]:
        """The headers re-signed at the moment of sending, as Calendly signs each attempt."""
        timestamp = int(self.store.clock.now().timestamp())
        return {**outgoing.headers, SIGNATURE_HEADER: sign(outgoing.key, timestamp, outgoing.body)}

    def _record(self, delivery: Delivery, now: datetime, status: int) -> bool:
        """Book one attempt's outcome: done, or queued for a retry (or disabling)."""
        delivery.attempts += 1
        self.attempts.append(Attempt(delivery.subscription_uuid, delivery.event_name, now, status))
        subscription = self.store.webhook_subscriptions.get(delivery.subscription_uuid)
        if subscription is None:  # deleted meanwhile
            return False
        if 200 <= status < 300:
            self._succeeded(delivery, subscription)
            return True
        if status == GONE:
            self._delete(delivery.subscription_uuid)
            return False
        self._failed(delivery, subscription, now)
        return False

    def _succeeded(self, delivery: Delivery, subscription: Resource) -> None:
        if delivery in self.pending:
            self.pending.remove(delivery)
        if not any(d.subscription_uuid == delivery.subscription_uuid for d in self.pending):
            subscription["retry_started_at"] = None

    def _failed(self, delivery: Delivery, subscription: Resource, now: datetime) -> None:
        if delivery.first_failed_at is None:
            delivery.first_failed_at = now
            self.pending.append(delivery)
        if subscription.get("retry_started_at") is None:
            subscription["retry_started_at"] = format_ts(now)
        if now - delivery.first_failed_at >= RETRY_WINDOW:
            self._disable(delivery.subscription_uuid, subscription, now)
            return
        delay = min(FIRST_RETRY_DELAY * 2 ** (delivery.attempts - 1), MAX_RETRY_DELAY)
        delivery.next_attempt_at = now + delay

    def _disable(self, uuid: str, subscription: Resource, now: datetime) -> None:
        logger.info("webhook subscription %s disabled after 24 h of failed deliveries", uuid)
        subscription["state"] = "disabled"
        subscription["updated_at"] = format_ts(now)
        self.pending = [d for d in self.pending if d.subscription_uuid != uuid]

    def _delete(self, uuid: str) -> None:
        logger.info("webhook subscription %s deleted: the receiver answered 410 Gone", uuid)
        self.store.webhook_subscriptions.pop(uuid, None)
        self.store.webhook_signing_keys.pop(uuid, None)
        self.pending = [d for d in self.pending if d.subscription_uuid != uuid]

    def retry_due(self) -> int:
        """Retry every queued delivery due at the clock's now.

        Returns:
            The number of deliveries that succeeded in this round.
        """
        with self.store.lock:
            now = self.store.clock.now()
            due = [
                d
                for d in self.pending
                if not d.in_flight and d.next_attempt_at and d.next_attempt_at <= now
            ]
            delivered = 0
            for delivery in due:
                if delivery in self.pending:
                    delivered += self._attempt(delivery, now)
            return delivered

    def next_retry_at(self) -> datetime | None:
        """When the earliest queued retry is due (None if nothing is queued)."""
        moments = [d.next_attempt_at for d in self.pending if d.next_attempt_at]
        return min(moments) if moments else None


@dataclass(frozen=True)
class _Outgoing:
    """A signed delivery waiting for the sender thread."""

    delivery: Delivery
    at: datetime
    url: str
    headers: dict[str, str]
    body: bytes
    key: str = field(repr=False)


def _hosts_of(payload: Resource) -> set[str]:
    owner = (payload.get("profile") or {}).get("owner")
    if owner:  # an event type: its owner
        return {owner}
    event = payload.get("scheduled_event") or {}
    return {member["user"] for member in event.get("event_memberships") or []}
