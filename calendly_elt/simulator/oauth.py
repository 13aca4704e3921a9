"""auth.calendly.com's OAuth 2.0 endpoints over an ``AuthService``.

- ``GET /oauth/authorize`` (authorization code, PKCE S256) redirects with a
  ``code`` and the ``state``; ``scope=`` (space-separated) asks for scopes,
  none or ``default`` for a legacy full-access grant. The simulated user
  consents at once; two simulator-only parameters play the consent screen:
  ``refuse_scope=`` (space-separated scopes the user unticks: the grant is
  the rest) and ``consent=deny`` (``error=access_denied``). A registered
  loopback redirect URI without a port (``http://127.0.0.1/callback``)
  accepts any port, as RFC 8252 asks of native-app servers.
- ``POST /oauth/token`` (form body, client credentials in the body or HTTP
  Basic) exchanges a code or a refresh token for a grant; refresh tokens are
  single use (reuse: ``400 invalid_grant``); 8 token requests per user per minute.
- ``POST /oauth/introspect`` (RFC 7662) answers ``active`` and, for a live
  token, its ``scope`` (space-separated), ``client_id``, ``exp``, ``iat``,
  ``owner`` and ``organization``.
- ``POST /oauth/revoke`` (RFC 7009) revokes the grant of an access or refresh
  token; 200 whether or not the token was known.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from calendly_elt.simulator.auth import (
    AUTHORIZATION_CODE_LIFETIME,
    AuthService,
    Grant,
    OAuthClient,
    pkce_challenge,
)
from calendly_elt.simulator.scopes import Scopes, format_scopes, parse_scopes, unknown_scopes
from calendly_elt.simulator.store import uri_of
from calendly_elt.simulator.wire import SimRequest, SimResponse, json_response

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


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
class _Code:
    user_uuid: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    scopes: Scopes
    expires_at: datetime


class OAuthEndpoints:
    """The four endpoints, answering from (and into) ``auth``'s registry."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth
        self.store = auth.store
        self._codes: dict[str, _Code] = auth.codes

    def handle(self, request: SimRequest) -> SimResponse:
        """Serve one ``/oauth/*`` request."""
        routes = {
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/token"): self._token,
            ("POST", "/oauth/introspect"): self._introspect,
            ("POST", "/oauth/revoke"): self._revoke,
        }
        handler = routes.get((request.method, request.path.rstrip("/")))
        try:
            if handler is None:
                raise OAuthError(404, "not_found", "Unknown OAuth endpoint")
            return handler(request)
        except OAuthError as error:
            return error.response()

    # ---- authorize ---------------------------------------------------------------

    def _authorize(self, request: SimRequest) -> SimResponse:
        client = self._client(request.param("client_id"))
        redirect_uri = request.param("redirect_uri") or client.redirect_uri
        if not _redirect_matches(redirect_uri, client.redirect_uri):
            raise OAuthError(400, "invalid_request", "The redirect_uri does not match the app")
        challenge = request.param("code_challenge")
        if challenge and request.param("code_challenge_method") != "S256":
            raise OAuthError(400, "invalid_request", "code_challenge_method must be S256")
        state = request.param("state")
        if request.param("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type"}, state)
        scopes, refusal = self._consent(request)
        if refusal is not None:
            return _redirect(redirect_uri, refusal, state)
        user_uuid = self._impersonated_user(request.param("user"))
        code = self.auth.new_secret("code")
        expires_at = self.store.clock.now() + AUTHORIZATION_CODE_LIFETIME
        with self.auth.lock:
            self._codes[code] = _Code(
                user_uuid, client.client_id, redirect_uri, challenge, scopes, expires_at
            )
        return _redirect(redirect_uri, {"code": code}, state)

    def _consent(self, request: SimRequest) -> tuple[Scopes, dict[str, str] | None]:
        """The granted scopes, or the error redirect parameters of a refusal."""
        requested = parse_scopes(request.param("scope"))
        unknown = unknown_scopes(requested or ())
        if unknown:
            description = "The requested scope is invalid, unknown, or malformed."
            return None, {"error": "invalid_scope", "error_description": description}
        if request.param("consent") == "deny":
            description = "The resource owner denied the request."
            return None, {"error": "access_denied", "error_description": description}
        refused = frozenset((request.param("refuse_scope") or "").split())
        if requested is None or not refused:
            return requested, None
        return requested - refused, None

    def _impersonated_user(self, wanted: str | None) -> str:
        if not wanted:
            return self.store.personal_access_tokens[self.store.admin_token]
        for uuid, user in self.store.users.items():
            if wanted in (uuid, user["uri"], user.get("email")):
                return uuid
        raise OAuthError(400, "invalid_request", "Unknown user")

    # ---- token -------------------------------------------------------------------

    def _token(self, request: SimRequest) -> SimResponse:
        form = _form(request)
        client_id, client_secret = _client_credentials(request, form)
        client = self._client(client_id)
        grant_type = form.get("grant_type")
        with self.auth.lock:
            if grant_type == "authorization_code":
                code = self._check_code(form, client, client_secret)
                user_uuid, scopes = code.user_uuid, code.scopes
            elif grant_type == "refresh_token":
                _check_secret(client, client_secret)
                old = self._check_refresh(form, client)
                user_uuid, scopes = old.user_uuid, old.scopes
            else:
                raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
            self._count_token_request(user_uuid)
            if grant_type == "authorization_code":
                self._codes.pop(form.get("code", ""), None)
            else:
                self.auth.consume_refresh(form.get("refresh_token", ""))
            grant = self.auth.new_grant(user_uuid, client.client_id, scopes)
            return json_response(200, self.auth.token_response(grant))

    def _check_code(
        self, form: dict[str, str], client: OAuthClient, client_secret: str | None
    ) -> _Code:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid")
        if self.store.clock.now() >= code.expires_at:
            raise OAuthError(400, "invalid_grant", "The authorization code has expired")
        if form.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match")
        if client_secret is not None or not code.code_challenge:
            _check_secret(client, client_secret)
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if pkce_challenge(verifier) != code.code_challenge:
                raise OAuthError(400, "invalid_grant", "The code_verifier does not match")
        return code

    def _check_refresh(self, form: dict[str, str], client: OAuthClient) -> Grant:
        grant = self.auth.refresh_grant(form.get("refresh_token", ""))
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", INVALID_GRANT)
        return grant

    def _count_token_request(self, user_uuid: str) -> None:
        decision = self.auth.token_limiter.hit(user_uuid)
        if not decision.allowed:
            raise OAuthError(429, "too_many_requests", "Too many token requests; retry in a minute")

    # ---- introspect and revoke -----------------------------------------------------

    def _introspect(self, request: SimRequest) -> SimResponse:
        form = _form(request)
        client = self._authenticated_client(request, form)
        token = form.get("token", "")
        access, refresh = self.auth.access_grant(token), self.auth.refresh_grant(token)
        grant = access or refresh
        if grant is None or grant.client_id != client.client_id:
            return json_response(200, {"active": False})
        if access is not None and self.store.clock.now() >= access.expires_at:
            return json_response(200, {"active": False})
        body: dict[str, Any] = {
            "active": True,
            "scope": format_scopes(grant.scopes),
            "client_id": grant.client_id,
            "token_type": "Bearer" if access is not None else "refresh_token",
            "iat": int(grant.issued_at.timestamp()),
        }
        if access is not None:
            body["exp"] = int(access.expires_at.timestamp())
        body["owner"] = uri_of("users", grant.user_uuid)
        body["organization"] = self.store.organization.get("uri")
        return json_response(200, body)

    def _revoke(self, request: SimRequest) -> SimResponse:
        form = _form(request)
        client = self._authenticated_client(request, form)
        token = form.get("token", "")
        grant = self.auth.access_grant(token) or self.auth.refresh_grant(token)
        if grant is not None and grant.client_id == client.client_id:
            self.auth.revoke(token)
        return json_response(200, {})

    # ---- clients ---------------------------------------------------------------------

    def _client(self, client_id: str | None) -> OAuthClient:
        client = self.auth.clients.get(client_id or "")
        if client is None:
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        return client

    def _authenticated_client(self, request: SimRequest, form: dict[str, str]) -> OAuthClient:
        client_id, client_secret = _client_credentials(request, form)
        client = self._client(client_id)
        _check_secret(client, client_secret)
        return client


def _check_secret(client: OAuthClient, client_secret: str | None) -> None:
    if client_secret is None or not hmac.compare_digest(client_secret, client.client_secret):
        raise OAuthError(401, "invalid_client", "Client authentication failed")


def _form(request: SimRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def _redirect_matches(given: str, registered: str) -> bool:
    """Exact match, or any port for a registered loopback URI without one (RFC 8252)."""
    if given == registered:
        return True
    want, got = urlsplit(registered), urlsplit(given)
    if want.scheme != "http" or want.port is not None or want.netloc not in LOOPBACK_HOSTS:
        return False
    return (got.scheme, got.hostname, got.path, got.query) == (
        want.scheme,
        want.hostname,
        want.path,
        want.query,
    )


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
