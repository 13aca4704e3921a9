"""Webhook subscriptions over the API client: create (with a fresh key), list, delete.

``subscribe`` generates a signing key (``secrets.token_urlsafe``), stores it in
the key store first, then ``POST /webhook_subscriptions`` with ``url``,
``events``, ``organization``, ``scope`` (``user`` also sends the token user's
URI) and ``signing_key``; if Calendly refuses, the key is forgotten again.
The organization is the configured one, else the token user's current one
(``GET /users/me``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from calendly_elt.errors import ConfigError
from calendly_elt.webhooks.keys import SigningKey, SigningKeyStore

DEFAULT_EVENTS: tuple[str, ...] = (
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
    "event_type.created",
    "event_type.updated",
    "event_type.deleted",
)
SUBSCRIPTION_SCOPES = ("organization", "user")
KEY_BYTES = 32


class ApiClient(Protocol):
    """The part of ``CalendlyClient`` the subscription commands use."""

    def get(self, path_or_url: str, params: Any = None) -> dict[str, Any]: ...  # noqa: D102

    def post(self, path: str, json_body: Any) -> dict[str, Any]: ...  # noqa: D102

    def delete(self, path_or_url: str) -> dict[str, Any]: ...  # noqa: D102

    def paginate(self, path: str, params: Any = None) -> Any: ...  # noqa: D102


def _me(client: ApiClient) -> dict[str, Any]:
    resource = client.get("/users/me").get("resource")
    if not isinstance(resource, dict):
        raise ConfigError("GET /users/me returned no user")
    return resource


def _check(url: str, scope: str, events: Sequence[str]) -> None:
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"--url must be an http(s) URL, got {url!r}")
    if scope not in SUBSCRIPTION_SCOPES:
        raise ConfigError(f"--scope must be organization or user, got {scope!r}")
    if not events:
        raise ConfigError("--events needs at least one event name")


def subscribe(
    client: ApiClient,
    key_store: SigningKeyStore,
    *,
    url: str,
    scope: str = "organization",
    events: Sequence[str] = DEFAULT_EVENTS,
    organization: str | None = None,
) -> dict[str, Any]:
    """Create a webhook subscription with a new signing key kept in ``key_store``.

    Args:
        client: The configured API client.
        key_store: Where the signing key is kept for ``webhooks serve``.
        url: The receiver's public URL (``https://.../webhooks/calendly``).
        scope: ``organization`` (an admin's token) or ``user`` (the token user's events).
        events: The event names to receive.
        organization: The organization URI; default: the token user's current one.

    Returns:
        The created subscription resource.

    Raises:
        ConfigError: Invalid arguments.
        CalendlyApiError: Calendly refused (the key is then forgotten).
    """
    _check(url, scope, events)
    body = _subscription_body(_me(client), url, scope, events, organization)
    entry = SigningKey(callback_url=url, signing_key=secrets.token_urlsafe(KEY_BYTES))
    key_store.add(entry)
    try:
        resource = client.post("/webhook_subscriptions", {**body, "signing_key": entry.signing_key})
    except BaseException:
        key_store.discard(entry)
        raise
    subscription = resource.get("resource") or {}
    key_store.attach(entry, str(subscription.get("uri") or ""))
    return dict(subscription)


def _subscription_body(
    me: dict[str, Any], url: str, scope: str, events: Sequence[str], organization: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": url,
        "events": list(dict.fromkeys(events)),
        "organization": organization or me.get("current_organization"),
        "scope": scope,
    }
    if scope == "user":
        body["user"] = me.get("uri")
    return body


def list_subscriptions(
    client: ApiClient, *, scope: str = "organization", organization: str | None = None
) -> list[dict[str, Any]]:
    """The webhook subscriptions of the organization (or of the token user).

    Args:
        client: The configured API client.
        scope: ``organization`` or ``user``.
        organization: The organization URI; default: the token user's current one.

    Returns:
        The subscription resources, oldest first.
    """
    if scope not in SUBSCRIPTION_SCOPES:
        raise ConfigError(f"--scope must be organization or user, got {scope!r}")
    me = _me(client)
    params: dict[str, Any] = {
        "organization": organization or me.get("current_organization"),
        "scope": scope,
    }
    if scope == "user":
        params["user"] = me.get("uri")
    return [row for page in client.paginate("/webhook_subscriptions", params) for row in page]


def delete_subscription(client: ApiClient, key_store: SigningKeyStore, uri: str) -> bool:
    """Delete a subscription and forget its signing key.

    Args:
        client: The configured API client.
        key_store: The key store holding the subscription's key.
        uri: The subscription URI (``https://api.calendly.com/webhook_subscriptions/<uuid>``).

    Returns:
        True if the key store held a key for it.
    """
    if "/webhook_subscriptions/" not in uri:
        raise ConfigError(f"not a webhook subscription URI: {uri!r}")
    path = "/webhook_subscriptions/" + uri.rstrip("/").rsplit("/", 1)[-1]
    client.delete(path)
    return key_store.forget_subscription(uri)
