"""Constants of the webhook receiver."""

from __future__ import annotations

DELIVERY_PATH = "/webhooks/calendly"
"""Where Calendly POSTs deliveries."""

MAX_BODY_BYTES = 1024 * 1024
"""Largest accepted delivery body (1 MiB); Calendly's deliveries are a few KiB."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
