"""Who is calling: personal access tokens and Calendly's OAuth 2.0 flow.

Personal access tokens are plain Bearer tokens (``Store.personal_access_tokens``).
OAuth follows auth.calendly.com: ``GET /oauth/authorize`` (authorization code,
PKCE with S256) redirects with a ``code``; ``POST /oauth/token`` (form body,
client credentials in the body or HTTP Basic) exchanges a code or a refresh
token for a 2-hour access token and a new refresh token. Refresh tokens are
single use: each refresh revokes the one it consumed, and reusing it gives
``400 invalid_grant``. At most 8 token requests per user per minute.
Expiry runs on the simulated clock, so tests advance time instead of waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from calendly_elt.simulator.api import SimRequest, SimResponse, json_response
from calendly_elt.simulator.rate_limit import RateLimiter
from calendly_elt.simulator.store import SimulatorError, Store, uri_of

ACCESS_TOKEN_LIFETIME = timedelta(hours=2)
AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=10)
TOKEN_REQUESTS_PER_MINUTE = 8
OAUTH_PATHS = ("/oauth/authorize", "/oauth/token")


def unauthenticated(message: str = "The access token is invalid") -> SimulatorError:
    """Calendly's 401 body."""
    return SimulatorError(401, "Unauthenticated", message)


class OAuthError(Exception):
    """An OAuth endpoint refusal: ``{"error", "error_description"}`` with a status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> SimResponse:
        """The JSON error response of the OAuth endpoints."""
        return json_response(
            self.status, {"error": self.error, "error_description": self.description}
        )


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth application."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class _Code:
    user_uuid: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    expires_at: datetime


@dataclass(frozen=True)
class _AccessToken:
    user_uuid: str
    client_id: str
    expires_at: datetime


@dataclass(frozen=True)
class _RefreshToken:
    user_uuid: str
    client_id: str


class AuthService:
    """Authenticates API calls and serves the OAuth endpoints.

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
        self._clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._counter = 0
        self._lock = threading.RLock()

    # ---- API authentication --------------------------------------------------

    def authenticate(self, request: SimRequest) -> str:
        """The uuid of the user a request's Bearer token belongs to, or a 401."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated()
        user_uuid = self.store.personal_access_tokens.get(token)
        if user_uuid is not None:
            return user_uuid
        with self._lock:
            access = self._access.get(token)
        if access is None:
            raise unauthenticated()
        if self.store.clock.now() >= access.expires_at:
            raise unauthenticated("The access token expired")
        return access.user_uuid

    # ---- registration and direct issue --------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """Register an OAuth application the token endpoint will accept."""
        with self._lock:
            self._clients[client_id] = OAuthClient(client_id, client_secret, redirect_uri)

    def issue_tokens(self, user_uuid: str, client_id: str) -> dict[str, Any]:
        """Mint an access/refresh token pair directly (tests skip the browser step)."""
        if user_uuid not in self.store.users:
            raise ValueError(f"unknown user {user_uuid}")
        with self._lock:
            return self._token_response(user_uuid, client_id)

    # ---- OAuth endpoints -----------------------------------------------------

    def handle_oauth(self, request: SimRequest) -> SimResponse:
        """Serve ``GET /oauth/authorize`` and ``POST /oauth/token``."""
        try:
            if request.method == "GET" and request.path.rstrip("/") == "/oauth/authorize":
                return self._authorize(request)
            if request.method == "POST" and request.path.rstrip("/") == "/oauth/token":
                return self._token(request)
            raise OAuthError(404, "not_found", "Unknown OAuth endpoint")
        except OAuthError as error:
            return error.response()

    def _authorize(self, request: SimRequest) -> SimResponse:
        client = self._client(request.param("client_id"))
        redirect_uri = request.param("redirect_uri") or client.redirect_uri
        if redirect_uri != client.redirect_uri:
            raise OAuthError(400, "invalid_request", "The redirect_uri does not match the app")
        challenge = request.param("code_challenge")
        method = request.param("code_challenge_method")
        if challenge and method != "S256":
            raise OAuthError(400, "invalid_request", "code_challenge_method must be S256")
        state = request.param("state")
        if request.param("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type"}, state)
        user_uuid = self._impersonated_user(request.param("user"))
        with self._lock:
            code = self._new_secret("code")
            self._codes[code] = _Code(
                user_uuid,
                client.client_id,
                redirect_uri,
                challenge,
                self.store.clock.now() + AUTHORIZATION_CODE_LIFETIME,
            )
        return _redirect(redirect_uri, {"code": code}, state)

    def _impersonated_user(self, wanted: str | None) -> str:
        if not wanted:
            return self.store.personal_access_tokens[self.store.admin_token]
        for uuid, user in self.store.users.items():
            if wanted in (uuid, user["uri"], user.get("email")):
                return uuid
        raise OAuthError(400, "invalid_request", "Unknown user")

    def _token(self, request: SimRequest) -> SimResponse:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = _client_credentials(request, form)
        client = self._client(client_id)
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                user_uuid, consume = self._check_code(form, client, client_secret)
            elif grant_type == "refresh_token":
                self._check_secret(client, client_secret)
                user_uuid, consume = self._check_refresh(form, client)
            else:
                raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
            self._count_token_request(user_uuid)
            consume()
            return json_response(200, self._token_response(user_uuid, client.client_id))

    def _check_code(
        self, form: dict[str, str], client: OAuthClient, client_secret: str | None
    ) -> tuple[str, Callable[[], None]]:
        code_text = form.get("code", "")
        code = self._codes.get(code_text)
        if code is None or code.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid")
        if self.store.clock.now() >= code.expires_at:
            raise OAuthError(400, "invalid_grant", "The authorization code has expired")
        if form.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match")
        if client_secret is not None or not code.code_challenge:
            self._check_secret(client, client_secret)
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if pkce_challenge(verifier) != code.code_challenge:
                raise OAuthError(400, "invalid_grant", "The code_verifier does not match")

        def consume() -> None:
            self._codes.pop(code_text, None)

        return code.user_uuid, consume

    def _check_refresh(
        self, form: dict[str, str], client: OAuthClient
    ) -> tuple[str, Callable[[], None]]:
        token = form.get("refresh_token", "")
        refresh = self._refresh.get(token)
        if refresh is None or refresh.client_id != client.client_id:
            raise OAuthError(
                400,
                "invalid_grant",
                "The provided authorization grant is invalid, expired, revoked, does not "
                "match the redirection URI used in the authorization request, or was "
                "issued to another client.",
            )

        def consume() -> None:
            self._refresh.pop(token, None)

        return refresh.user_uuid, consume

    def _count_token_request(self, user_uuid: str) -> None:
        decision = self.token_limiter.hit(user_uuid)
        if not decision.allowed:
            raise OAuthError(429, "too_many_requests", "Too many token requests; retry in a minute")

    def _client(self, client_id: str | None) -> OAuthClient:
        client = self._clients.get(client_id or "")
        if client is None:
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        return client

    @staticmethod
    def _check_secret(client: OAuthClient, client_secret: str | None) -> None:
        if client_secret is None or not hmac.compare_digest(client_secret, client.client_secret):
            raise OAuthError(401, "invalid_client", "Client authentication failed")

    # ---- token minting -------------------------------------------------------

    def _token_response(self, user_uuid: str, client_id: str) -> dict[str, Any]:
        now = self.store.clock.now()
        access_token = self._new_secret("access")
        refresh_token = self._new_secret("refresh")
        self._access[access_token] = _AccessToken(user_uuid, client_id, now + ACCESS_TOKEN_LIFETIME)
        self._refresh[refresh_token] = _RefreshToken(user_uuid, client_id)
        return {
            "token_type": "Bearer",
            "access_token": access_token,
            "refresh_token": refresh_token,
            "scope": "default",
            "created_at": int(now.timestamp()),
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "owner": uri_of("users", user_uuid),
            "organization": self.store.organization.get("uri"),
        }

    def _new_secret(self, kind: str) -> str:
        self._counter += 1
        digest = hmac.new(self._secret, f"{kind}:{self._counter}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def pkce_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of a code verifier."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _client_credentials(request: SimRequest, form: dict[str, str]) -> tuple[str | None, str | None]:
    """Client id and secret from HTTP Basic, else from the form body."""
    header = request.header("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded.strip()).decode("utf-8")
        except ValueError:
            raise OAuthError(401, "invalid_client", "Malformed Basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def _redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> SimResponse:
    if state is not None:
        params = {**params, "state": state}
    separator = "&" if "?" in redirect_uri else "?"
    return SimResponse(302, {"Location": f"{redirect_uri}{separator}{urlencode(params)}"})
