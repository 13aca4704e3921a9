"""``calendly-elt auth status`` and ``auth logout`` over the stored OAuth tokens.

``status`` introspects (``/oauth/introspect``) the stored access token, and the
refresh token when the access token has expired, so it can say which scopes
the grant has and whether the next run can refresh; it never refreshes (that
would rotate the refresh token) and never returns a token. ``logout`` revokes
the grant at ``/oauth/revoke`` and then removes the token store file, under
the store's lock so a run cannot refresh in between.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calendly_elt.calendly.helpers.auth import TokenStore
from calendly_elt.calendly.helpers.errors import CalendlyApiError, TokenStoreError
from calendly_elt.calendly.helpers.oauth_login import OAuthApp, who_is
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionStatus:
    """What the stored grant is (no token in here).

    Attributes:
        state: ``active`` (access token valid), ``refreshable`` (access token
            expired, refresh token valid: the next run refreshes) or
            ``invalid`` (revoked or used elsewhere: log in again).
        user: The ``/users/me`` resource when the access token is valid and may read it.
        owner: The user URI of the grant.
        organization: The organization URI of the grant.
        scopes: The grant's scopes (``("default",)`` for a legacy full-access grant).
        expires_at: When the access token expires (or expired).
    """

    state: str
    user: dict[str, Any] | None
    owner: str | None
    organization: str | None
    scopes: tuple[str, ...]
    expires_at: datetime | None


def stored_tokens(store: TokenStore) -> dict[str, Any]:
    """The stored tokens, or a one-line error saying how to get some.

    Raises:
        ConfigError: Nothing is stored.
    """
    stored = store.load()
    if not stored or not stored.get("refresh_token"):
        raise ConfigError(
            f"no OAuth tokens stored in {store.path}: run `calendly-elt auth login` first"
        )
    return stored


def connection_status(app: OAuthApp, store: TokenStore) -> ConnectionStatus:
    """Introspect the stored grant.

    Raises:
        ConfigError: Nothing is stored.
        CalendlyApiError: The introspection endpoint refused or could not be reached.
    """
    stored = stored_tokens(store)
    access = app.post("introspect", {"token": str(stored.get("access_token") or "")})
    if access.get("active"):
        return _status("active", access, stored, who_is(app, str(stored["access_token"])))
    refresh = app.post("introspect", {"token": str(stored["refresh_token"])})
    if refresh.get("active"):
        return _status("refreshable", refresh, stored, None)
    return _status("invalid", {}, stored, None)


def _status(
    state: str, described: dict[str, Any], stored: dict[str, Any], user: dict[str, Any] | None
) -> ConnectionStatus:
    scope_text = str(described.get("scope") or stored.get("scope") or "")
    return ConnectionStatus(
        state=state,
        user=user,
        owner=described.get("owner") or stored.get("owner"),
        organization=described.get("organization") or stored.get("organization"),
        scopes=tuple(scope_text.split()),
        expires_at=_expiry(described, stored),
    )


def _expiry(described: dict[str, Any], stored: dict[str, Any]) -> datetime | None:
    if isinstance(described.get("exp"), int | float):
        return datetime.fromtimestamp(described["exp"], UTC)
    try:
        return datetime.fromisoformat(str(stored.get("expires_at")))
    except ValueError:
        return None


def logout(store: TokenStore, app: OAuthApp | None) -> bool:
    """Revoke the stored grant, then forget it.

    Args:
        store: The token store.
        app: The OAuth app the tokens were issued to; None only forgets them
            (they stay valid at Calendly).

    Returns:
        True if something was stored (and is now gone).

    Raises:
        CalendlyApiError: Revocation failed; the tokens are kept (retry, or ``--no-revoke``).
        TokenStoreError: The store file cannot be removed.
    """
    with store.locked():
        stored = store.load()
        if not stored:
            return False
        if app is not None:
            for name in ("refresh_token", "access_token"):
                if stored.get(name):
                    _revoke(app, str(stored[name]))
        _forget(store)
    return True


def _revoke(app: OAuthApp, token: str) -> None:
    try:
        app.post("revoke", {"token": token})
    except CalendlyApiError as error:
        logger.error("revocation failed; the stored tokens are kept")
        error.advice = "the stored tokens were kept; retry, or use --no-revoke to only forget them"
        raise


def _forget(store: TokenStore) -> None:
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(store.path)
    except OSError as error:
        raise TokenStoreError(
            f"cannot remove the OAuth token store {store.path}: {error.strerror}"
        ) from error
    logger.info("forgot the OAuth tokens in %s", store.path)
