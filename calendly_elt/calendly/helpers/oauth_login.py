"""``calendly-elt auth login``: the OAuth authorization-code flow with PKCE (S256).

1. a random ``state`` and PKCE verifier; the challenge is its SHA-256;
2. the authorize URL (``<auth_base_url>/oauth/authorize`` with ``client_id``,
   ``redirect_uri``, ``scope``, ``state``, ``code_challenge``) is handed to
   ``open_url`` (the CLI prints it and opens a browser);
3. the redirect lands on a loopback listener (``oauth_callback``); an
   ``error=`` parameter, or a missing or different ``state``, ends the login
   with nothing stored;
4. the code is exchanged with the verifier at ``/oauth/token``;
5. the tokens are stored in the :class:`TokenStore` (0600, atomic) in the
   format :class:`OAuthAuth` reads, so a following ``run`` needs only the
   client id and secret: the stored refresh token is the one it rotates;
6. ``/users/me`` says who is connected; the granted scopes come from the token
   response (``default`` means a legacy grant with full access).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from calendly_elt.calendly.helpers.auth import PersonalAccessTokenAuth, TokenStore
from calendly_elt.calendly.helpers.errors import (
    ADVICE_OAUTH_CLIENT,
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyForbiddenError,
    CalendlyServerError,
    redact,
)
from calendly_elt.calendly.helpers.oauth_callback import LoopbackCallback, OAuthLoginError
from calendly_elt.calendly.helpers.scopes import DEFAULT_LOGIN_SCOPES, covers
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)

LEGACY_SCOPE = "default"
DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class OAuthApp:
    """A Calendly OAuth application and where it talks to.

    Attributes:
        client_id: The app's client id.
        client_secret: The app's client secret (never shown).
        auth_base_url: OAuth root (``https://auth.calendly.com`` or a simulator).
        base_url: API root, for ``/users/me``.
        transport: An httpx transport (tests); None for real HTTP.
    """

    client_id: str
    client_secret: str = field(repr=False)
    auth_base_url: str
    base_url: str
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigError(
                "auth needs the OAuth app's CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET "
                "(or sources.calendly.client_id / client_secret in .dlt/secrets.toml)"
            )

    def endpoint(self, name: str) -> str:
        """``<auth_base_url>/oauth/<name>``."""
        return f"{self.auth_base_url.rstrip('/')}/oauth/{name}"

    def post(self, name: str, form: dict[str, str]) -> dict[str, Any]:
        """POST a form (client credentials included) to an OAuth endpoint; its JSON body.

        Raises:
            CalendlyAuthError: The endpoint refused (``invalid_grant``, ``invalid_client``...).
            CalendlyServerError: It could not be reached or failed.
        """
        body = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        url = self.endpoint(name)
        try:
            with httpx.Client(transport=self.transport, timeout=30.0) as http:
                response = http.post(url, data=body)
        except httpx.TransportError as error:
            raise CalendlyServerError(
                None,
                "Connection Failed",
                redact(f"{type(error).__name__}: {error}"),
                advice="the OAuth endpoint could not be reached; check auth_base_url",
                url=url,
            ) from None
        if response.status_code != 200:
            raise _oauth_refusal(response, [self.client_secret, *form.values()])
        payload = _json_object(response)
        return payload


@dataclass(frozen=True)
class LoginResult:
    """Who connected, with which scopes (no token in here).

    Attributes:
        user: The ``/users/me`` resource, or None when ``users:read`` was not granted.
        organization: The organization URI of the grant.
        granted: Scopes granted; ``("default",)`` for a legacy full-access grant.
        refused: Requested scopes the grant lacks.
        expires_at: When the access token expires (the next run refreshes it).
    """

    user: dict[str, Any] | None
    organization: str | None
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    expires_at: datetime


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(verifier, S256 challenge)`` (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorize_url(
    app: OAuthApp, redirect_uri: str, scopes: Iterable[str], state: str, challenge: str
) -> str:
    """The URL the user opens to authorize the app."""
    query = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{app.endpoint('authorize')}?{urlencode(query)}"


def login(
    app: OAuthApp,
    store: TokenStore,
    open_url: Callable[[str], object],
    *,
    scopes: Iterable[str] = DEFAULT_LOGIN_SCOPES,
    port: int = 0,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    now: Callable[[], datetime] | None = None,
) -> LoginResult:
    """Run the whole authorization-code flow and store the tokens.

    Args:
        app: The OAuth app.
        store: Where the tokens go (checked writable before anything is sent).
        open_url: Called with the authorize URL (print it, open a browser).
        scopes: The scopes to ask for.
        port: Loopback callback port; 0 picks a free one.
        timeout: Seconds to wait for the redirect.
        now: The clock of the stored expiry; default wall-clock UTC.

    Returns:
        Who connected and the granted scopes.

    Raises:
        OAuthLoginError: Refused, wrong state, no redirect in time.
        CalendlyApiError: The token endpoint or ``/users/me`` refused.
    """
    wanted = tuple(dict.fromkeys(scopes))
    if not wanted:
        raise ConfigError("no scope to ask for: give --scope at least once")
    _check_writable(store)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    with LoopbackCallback(port) as callback:
        redirect_uri = callback.redirect_uri
        open_url(authorize_url(app, redirect_uri, wanted, state, challenge))
        code = _code_from(callback.wait(timeout), state)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}  # fmt: skip
    payload = app.post("token", form)
    expires_at = save_tokens(store, payload, (now or _utc_now)())
    granted = tuple(str(payload.get("scope") or LEGACY_SCOPE).split())
    refused = () if granted == (LEGACY_SCOPE,) else _refused(wanted, granted)
    return LoginResult(
        user=who_is(app, str(payload["access_token"])),
        organization=payload.get("organization"),
        granted=granted,
        refused=refused,
        expires_at=expires_at,
    )


def _check_writable(store: TokenStore) -> None:
    """Fail before the browser opens if the tokens could not be stored."""
    try:
        store.check_writable()
    except ConfigError as error:
        cause = error.__cause__
        reason = getattr(cause, "strerror", None) or cause or "not writable"
        raise ConfigError(
            f"cannot write the OAuth token store {store.path} ({reason}): set token_store_path "
            "(SOURCES__CALENDLY__TOKEN_STORE_PATH) to a file in a writable folder; nothing "
            "was authorized"
        ) from error


def _code_from(params: dict[str, str], state: str) -> str:
    """The authorization code of a redirect, after the refusal and ``state`` checks."""
    if "error" in params:
        description = params.get("error_description") or "no description"
        raise OAuthLoginError(
            f"Calendly refused the authorization ({redact(params['error'])}: "
            f"{redact(description)}); nothing was stored"
        )
    received = params.get("state")
    if received is None or not hmac.compare_digest(received, state):
        raise OAuthLoginError(
            "the OAuth redirect carried a missing or different state (a stale or forged "
            "redirect); nothing was stored: run `calendly-elt auth login` again"
        )
    code = params.get("code")
    if not code:
        raise OAuthLoginError("the OAuth redirect carried no code; nothing was stored")
    return code


def _refused(wanted: tuple[str, ...], granted: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(scope for scope in wanted if not covers(frozenset(granted), scope))


def save_tokens(store: TokenStore, payload: dict[str, Any], now: datetime) -> datetime:
    """Store a token response in the format ``OAuthAuth`` reads; the access-token expiry."""
    try:
        lifetime = timedelta(seconds=float(payload.get("expires_in") or 7200))
    except (TypeError, ValueError):
        lifetime = timedelta(hours=2)
    expires_at = now + lifetime
    if not payload.get("access_token") or not payload.get("refresh_token"):
        raise CalendlyAuthError(
            200, "Invalid Token Response", "the token endpoint answered without both tokens",
            advice=ADVICE_OAUTH_CLIENT,
        )  # fmt: skip
    tokens: dict[str, Any] = {
        "refresh_token": str(payload["refresh_token"]),
        "access_token": str(payload["access_token"]),
        "expires_at": expires_at.isoformat(),
        "obtained_at": now.isoformat(),
        "lineage": [],
        "scope": str(payload.get("scope") or LEGACY_SCOPE),
        "owner": payload.get("owner"),
        "organization": payload.get("organization"),
    }
    with store.locked():
        store.save(tokens)
    logger.info("OAuth tokens stored in %s", store.path)
    return expires_at


def who_is(app: OAuthApp, access_token: str) -> dict[str, Any] | None:
    """The ``/users/me`` resource of a token, or None if it lacks ``users:read``."""
    from calendly_elt.calendly.helpers.client import CalendlyClient

    client = CalendlyClient(
        app.base_url, PersonalAccessTokenAuth(access_token), max_retries=2, transport=app.transport
    )
    try:
        return dict(client.get("/users/me")["resource"])
    except CalendlyForbiddenError:
        return None
    finally:
        client.close()


def _oauth_refusal(response: httpx.Response, secrets_sent: list[str]) -> CalendlyApiError:
    body = _json_object(response, strict=False)
    code = redact(str(body.get("error") or response.reason_phrase), secrets_sent)
    description = redact(str(body.get("error_description") or ""), secrets_sent)
    url = str(response.request.url)
    if response.status_code >= 500 or response.status_code == 429:
        return CalendlyServerError(response.status_code, code, description, url=url)
    advice = (
        ADVICE_OAUTH_CLIENT
        if code == "invalid_client"
        else "run `calendly-elt auth login` again (the code or token is no longer valid)"
    )
    return CalendlyAuthError(response.status_code, code, description, advice=advice, url=url)


def _json_object(response: httpx.Response, strict: bool = True) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if strict:
        raise CalendlyServerError(
            response.status_code, "Invalid Response", "the OAuth endpoint did not answer JSON",
            url=str(response.request.url),
        )  # fmt: skip
    return {}


def _utc_now() -> datetime:
    return datetime.now(UTC)
