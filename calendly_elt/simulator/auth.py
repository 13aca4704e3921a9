"""Who is calling, with which scopes: personal access tokens and OAuth tokens.

Personal access tokens are plain Bearer tokens (``Store.personal_access_tokens``);
the generated ones are legacy tokens with full access, and
``create_personal_access_token`` mints new ones with a scope list. OAuth
tokens come from the endpoints in ``oauth`` (auth.calendly.com's
``/oauth/authorize``, ``/oauth/token``, ``/oauth/introspect``, ``/oauth/revoke``)
or straight from ``issue_tokens``. Each token response is one *grant*: a
2-hour access token and a single-use refresh token carrying the same scopes;
a refresh issues a new grant and consumes the refresh token it used, and
revoking either token of a grant revokes both. Expiry runs on the simulated
clock, so tests advance time instead of waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from calendly_elt.simulator.rate_limit import RateLimiter
from calendly_elt.simulator.scopes import Scopes, format_scopes, unknown_scopes
from calendly_elt.simulator.store import SimulatorError, Store, uri_of
from calendly_elt.simulator.wire import SimRequest, SimResponse

ACCESS_TOKEN_LIFETIME = timedelta(hours=2)
AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=10)
TOKEN_REQUESTS_PER_MINUTE = 8
OAUTH_PATHS = ("/oauth/authorize", "/oauth/token", "/oauth/introspect", "/oauth/revoke")


def unauthenticated(message: str = "The access token is invalid") -> SimulatorError:
    """Calendly's 401 body."""
    return SimulatorError(401, "Unauthenticated", message)


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth application."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the token's user and scopes (None: legacy full access)."""

    user_uuid: str
    scopes: Scopes = None


@dataclass(frozen=True)
class Grant:
    """One token response: an access token and its refresh token, with their scopes."""

    user_uuid: str
    client_id: str
    scopes: Scopes
    access_token: str
    refresh_token: str
    issued_at: datetime
    expires_at: datetime


class AuthService:
    """Authenticates API calls and keeps the OAuth clients, codes and grants.

    Args:
        store: the organization (users, roles, personal access tokens, clock).
        monotonic: seconds clock of the token-request limit (injectable in tests).
        secret: HMAC key of issued codes and tokens (fixed: deterministic tokens).
    """

    def __init__(
        self,
        store: Store,
        monotonic: Callable[[], float] = time.monotonic,
        secret: bytes = b"calendly-elt-simulator-oauth",
    ) -> None:
        self.store = store
        self.token_limiter = RateLimiter(TOKEN_REQUESTS_PER_MINUTE, monotonic)
        self._secret = secret
        self.clients: dict[str, OAuthClient] = {}
        self.pat_scopes: dict[str, frozenset[str]] = {}
        self.codes: dict[str, Any] = {}  # authorization codes, kept by ``oauth.OAuthEndpoints``
        self._by_access: dict[str, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}
        self._counter = 0
        self.lock = threading.RLock()

    # ---- API authentication --------------------------------------------------

    def identify(self, request: SimRequest) -> Caller:
        """The user and scopes of a request's Bearer token, or a 401."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated()
        user_uuid = self.store.personal_access_tokens.get(token)
        if user_uuid is not None:
            return Caller(user_uuid, self.pat_scopes.get(token))
        grant = self.access_grant(token)
        if grant is None:
            raise unauthenticated()
        if self.store.clock.now() >= grant.expires_at:
            raise unauthenticated("The access token expired")
        return Caller(grant.user_uuid, grant.scopes)

    def authenticate(self, request: SimRequest) -> str:
        """The uuid of the user a request's Bearer token belongs to, or a 401."""
        return self.identify(request).user_uuid

    # ---- registration and direct issue --------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """Register an OAuth application the token endpoint will accept."""
        with self.lock:
            self.clients[client_id] = OAuthClient(client_id, client_secret, redirect_uri)

    def issue_tokens(
        self, user_uuid: str, client_id: str, scopes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Mint an access/refresh token pair directly (tests skip the browser step).

        Args:
            user_uuid: The token's user.
            client_id: The OAuth app it is issued to.
            scopes: The granted scopes; None issues a legacy full-access token.
        """
        self._check_user(user_uuid)
        granted = _validated(scopes)
        with self.lock:
            return self.token_response(self.new_grant(user_uuid, client_id, granted))

    def create_personal_access_token(
        self, user_uuid: str, scopes: Iterable[str] | None = None
    ) -> str:
        """A new personal access token of ``user_uuid`` (None scopes: a legacy full token)."""
        self._check_user(user_uuid)
        granted = _validated(scopes)
        with self.lock:
            token = f"sim_pat_{self.new_secret('pat')}"
            self.store.personal_access_tokens[token] = user_uuid
            if granted is not None:
                self.pat_scopes[token] = granted
        return token

    def _check_user(self, user_uuid: str) -> None:
        if user_uuid not in self.store.users:
            raise ValueError(f"unknown user {user_uuid}")

    # ---- OAuth endpoints -----------------------------------------------------

    def handle_oauth(self, request: SimRequest) -> SimResponse:
        """Serve the ``/oauth/*`` endpoints (see ``oauth``)."""
        from calendly_elt.simulator.oauth import OAuthEndpoints

        return OAuthEndpoints(self).handle(request)

    # ---- grants ----------------------------------------------------------------

    def access_grant(self, token: str) -> Grant | None:
        """The grant of an access token, if issued and not revoked (expired ones included)."""
        with self.lock:
            return self._by_access.get(token)

    def refresh_grant(self, token: str) -> Grant | None:
        """The grant of a refresh token, if unused and not revoked."""
        with self.lock:
            return self._by_refresh.get(token)

    def consume_refresh(self, token: str) -> None:
        """Spend a refresh token (single use); its access token lives on until it expires."""
        with self.lock:
            self._by_refresh.pop(token, None)

    def revoke(self, token: str) -> bool:
        """Revoke the grant ``token`` (access or refresh) belongs to; False if unknown."""
        with self.lock:
            grant = self._by_access.get(token) or self._by_refresh.get(token)
            if grant is None:
                return False
            self._by_access.pop(grant.access_token, None)
            self._by_refresh.pop(grant.refresh_token, None)
            return True

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far expire now (refresh tokens stay valid).

        What happens to a long run when its 2-hour token runs out mid-way; tests
        and the soak call it while a run is in flight.

        Returns:
            The number of access tokens expired.
        """
        now = self.store.clock.now()
        with self.lock:
            for token, grant in list(self._by_access.items()):
                expired = replace(grant, expires_at=min(grant.expires_at, now))
                self._by_access[token] = expired
                if self._by_refresh.get(grant.refresh_token) is grant:
                    self._by_refresh[grant.refresh_token] = expired
            return len(self._by_access)

    def new_grant(self, user_uuid: str, client_id: str, scopes: Scopes) -> Grant:
        """Mint and register a grant (call under ``lock``)."""
        now = self.store.clock.now()
        grant = Grant(
            user_uuid=user_uuid,
            client_id=client_id,
            scopes=scopes,
            access_token=self.new_secret("access"),
            refresh_token=self.new_secret("refresh"),
            issued_at=now,
            expires_at=now + ACCESS_TOKEN_LIFETIME,
        )
        self._by_access[grant.access_token] = grant
        self._by_refresh[grant.refresh_token] = grant
        return grant

    def token_response(self, grant: Grant) -> dict[str, Any]:
        """The ``/oauth/token`` body of a grant (``scope`` space-separated)."""
        return {
            "token_type": "Bearer",
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "scope": format_scopes(grant.scopes),
            "created_at": int(grant.issued_at.timestamp()),
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "owner": uri_of("users", grant.user_uuid),
            "organization": self.store.organization.get("uri"),
        }

    def new_secret(self, kind: str) -> str:
        """A fresh deterministic secret (HMAC of a counter)."""
        with self.lock:
            self._counter += 1
            counter = self._counter
        digest = hmac.new(self._secret, f"{kind}:{counter}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def _validated(scopes: Iterable[str] | None) -> Scopes:
    if scopes is None:
        return None
    granted = frozenset(scopes)
    unknown = unknown_scopes(granted)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
    return granted


def pkce_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of a code verifier."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
