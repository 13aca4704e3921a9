"""The webhook receiver: a Starlette app that verifies and lands Calendly deliveries.

``POST /webhooks/calendly`` checks, in this order, and answers:

- ``415`` when the content type is not ``application/json``;
- ``413`` when the body is larger than ``max_body_bytes`` (by ``Content-Length``,
  or while streaming: never more than the limit is read);
- ``400`` when ``Calendly-Webhook-Signature`` is missing or malformed;
- ``401`` when the signature matches no signing key, or its timestamp is more
  than three minutes from the receiver's clock (past or future);
- ``400`` when the signed body is not a UTF-8 JSON object with a string ``event``;
- ``503`` when the landing store cannot write (Calendly retries);
- ``200`` once the delivery is fsynced in the landing store, or was already
  (a redelivery or replay of the same body lands once).

The app never answers ``410`` (Calendly would delete the subscription) and
never follows up with work after landing, so it answers in milliseconds, far
inside Calendly's 15 s read timeout. ``GET /healthz`` answers ``{"status": "ok"}``.
Unknown event names are landed; the merge ignores them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from calendly_elt.webhooks.errors import LandingError, RejectedDelivery
from calendly_elt.webhooks.landing import LandingStore
from calendly_elt.webhooks.settings import DELIVERY_PATH, MAX_BODY_BYTES
from calendly_elt.webhooks.signature import SIGNATURE_HEADER, TOLERANCE_SECONDS, verify

logger = logging.getLogger(__name__)


def create_app(
    signing_keys: Sequence[str] | Callable[[], Sequence[str]],
    store: LandingStore,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    tolerance_seconds: int = TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> Starlette:
    """Build the receiver app.

    Args:
        signing_keys: The keys a delivery may be signed with (at least one), or a
            function returning the current ones (asked on every delivery).
        store: Where verified deliveries land.
        max_body_bytes: Largest accepted body.
        tolerance_seconds: Largest accepted distance of the signature's ``t`` from ``now``.
        now: The clock, unix seconds (inject for tests with a simulated clock).

    Returns:
        The Starlette application.

    Raises:
        ValueError: No signing key was given.
    """
    keys = signing_keys if callable(signing_keys) else _fixed(tuple(signing_keys))
    receiver = _Receiver(keys, store, max_body_bytes, tolerance_seconds, now)
    return Starlette(
        routes=[
            Route(DELIVERY_PATH, receiver.receive, methods=["POST"]),
            Route("/healthz", receiver.healthz, methods=["GET"]),
        ]
    )


@dataclass(frozen=True)
class _Receiver:
    """The two endpoints, bound to their keys, store and limits."""

    keys: Callable[[], Sequence[str]]
    store: LandingStore
    max_body_bytes: int
    tolerance_seconds: int
    now: Callable[[], float]

    async def receive(self, request: Request) -> JSONResponse:
        """``POST /webhooks/calendly``: verify, land, then answer (see the module docstring)."""
        try:
            raw_body = await _read_body(request, self.max_body_bytes)
            header = request.headers.get(SIGNATURE_HEADER)
            verify(self.keys(), header, raw_body, self.now(), self.tolerance_seconds)
            event = _event_of(raw_body)
            identifier, appended = await run_in_threadpool(self.store.append, raw_body, event)
        except RejectedDelivery as rejected:
            logger.info("delivery refused (%d): %s", rejected.status, rejected.reason)
            return JSONResponse({"error": rejected.reason}, status_code=rejected.status)
        except LandingError as error:
            logger.error("delivery not landed: %s", error)
            return JSONResponse({"error": "landing store unavailable"}, status_code=503)
        status = "landed" if appended else "duplicate"
        logger.info("%s %s %s", status, event, identifier)
        return JSONResponse({"status": status, "id": identifier})

    async def healthz(self, request: Request) -> JSONResponse:
        """``GET /healthz``: up, and how many deliveries are landed."""
        return JSONResponse({"status": "ok", "landed": len(self.store)})


def _fixed(keys: tuple[str, ...]) -> Callable[[], Sequence[str]]:
    if not keys:
        raise ValueError("the receiver needs at least one signing key")
    return lambda: keys


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, after the content-type check; at most ``limit`` bytes are ever read."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise RejectedDelivery(415, "content type must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise RejectedDelivery(400, "invalid Content-Length")
        if int(declared) > limit:
            raise RejectedDelivery(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RejectedDelivery(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _event_of(raw_body: bytes) -> str:
    """The ``event`` of a signed body, which must be a strict-JSON object (UTF-8)."""
    try:
        body: Any = json.loads(raw_body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise RejectedDelivery(400, "body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise RejectedDelivery(400, "body is not a webhook delivery (no event)")
    return str(body["event"])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
