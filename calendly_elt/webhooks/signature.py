"""``Calendly-Webhook-Signature`` verification.

Calendly signs every delivery: ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>``
where ``v1 = HMAC-SHA256(signing_key, f"{t}." + raw_body)``. A receiver must
compute the HMAC over the exact bytes received, compare in constant time and
refuse a ``t`` more than three minutes away from its clock (either side: an
old timestamp is a replay, one far in the future a forgery or a broken clock).

Refusals raise ``RejectedDelivery``: 400 for a missing or malformed header,
401 for a signature that does not match any key or a timestamp out of the
tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from calendly_elt.webhooks.errors import RejectedDelivery

SIGNATURE_HEADER = "Calendly-Webhook-Signature"
TOLERANCE_SECONDS = 180
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def sign(signing_key: str, timestamp: int, raw_body: bytes) -> str:
    """The header value Calendly sends for ``raw_body`` at ``timestamp`` (tests, tools).

    Args:
        signing_key: The subscription's signing key.
        timestamp: Unix seconds of the delivery.
        raw_body: The exact request body.

    Returns:
        ``t=<timestamp>,v1=<hex digest>``.
    """
    return f"t={timestamp},v1={_digest(signing_key, str(timestamp), raw_body)}"


def _digest(signing_key: str, timestamp: str, raw_body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + raw_body
    return hmac.new(signing_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse_header(header: str | None) -> tuple[str, list[str]]:
    """Split a signature header into its timestamp text and its ``v1`` digests.

    Args:
        header: The header value, or None when the request had none.

    Returns:
        ``(t, [v1, ...])``, ``t`` being ASCII digits.

    Raises:
        RejectedDelivery: 400 when the header is missing or malformed.
    """
    if header is None or not header.strip():
        raise RejectedDelivery(400, f"missing {SIGNATURE_HEADER} header")
    timestamp: str | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals:
            raise RejectedDelivery(400, f"malformed {SIGNATURE_HEADER} header")
        if name == "t":
            timestamp = value
        elif name == "v1":
            digests.append(value.lower())
    valid_time = timestamp is not None and timestamp.isascii() and timestamp.isdigit()
    if not valid_time or not digests or len(timestamp or "") > 12:
        raise RejectedDelivery(400, f"malformed {SIGNATURE_HEADER} header")
    assert timestamp is not None
    return timestamp, digests


def verify(
    signing_keys: Sequence[str],
    header: str | None,
    raw_body: bytes,
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> int:
    """Check a delivery's signature against every configured signing key.

    Args:
        signing_keys: The keys that may have signed (one per subscription).
        header: The ``Calendly-Webhook-Signature`` value (None: absent).
        raw_body: The exact bytes received.
        now: The receiver's clock, unix seconds.
        tolerance_seconds: Largest accepted distance between ``t`` and ``now``.

    Returns:
        The verified timestamp ``t``.

    Raises:
        RejectedDelivery: 400 for a missing or malformed header, 401 for a
            wrong signature or a timestamp outside the tolerance.
    """
    timestamp, received = parse_header(header)
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise RejectedDelivery(401, "signature timestamp outside the 3-minute tolerance")
    matched = False
    for key in signing_keys:
        expected = _digest(key, timestamp, raw_body)
        for digest in received:
            # no short-circuit: every comparison runs, each in constant time
            matched |= _HEX_DIGEST.fullmatch(digest) is not None and hmac.compare_digest(
                expected, digest
            )
    if not matched:
        raise RejectedDelivery(401, "signature does not match")
    return int(timestamp)
