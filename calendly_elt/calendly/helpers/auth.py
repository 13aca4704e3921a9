"""Authentication for the Calendly API: personal access tokens and OAuth.

Calendly's OAuth refresh tokens are single-use: every refresh returns a new
refresh token and revokes the old one. If the new one is lost (a crash right
after the refresh), the integration is locked out until someone re-authorizes
the app. So :class:`OAuthAuth`:

- checks that the :class:`TokenStore` (``token_store.py``: a 0600 JSON file)
  can be written *before* the first token request, so a bad
  ``token_store_path`` fails with the refresh token unused;
- writes the rotated refresh token to the store *before* the new access token
  is handed to anyone;
- refreshes under a thread lock (concurrent callers that all hit a 401 share a
  single refresh) and an exclusive file lock next to the store, inside which
  it re-reads the store first: a second process sharing the store (a DuckDB
  and a PostgreSQL run from the same folder) takes over the tokens the first
  one just stored instead of sending the refresh token the first one spent.

Why this module is longer than most: :class:`OAuthAuth` is one state machine
(refresh ahead of expiry, after a 401, take-over of tokens another process
rotated) whose steps share one lock and one invariant - the rotated refresh
token is stored before anything uses it. Split across modules, that
invariant would have no single place to be read and checked. The file
itself is kept by ``token_store.py``; the HTTP request to the token endpoint,
with its retries and 429 waits, is ``token_endpoint.py``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from calendly_elt.calendly.helpers.errors import (
    CalendlyAuthError,
    TokenStoreError,
)
from calendly_elt.calendly.helpers.rate_limit import (
    DEFAULT_RATE_LIMIT_WAIT_SECONDS,
)
from calendly_elt.calendly.helpers.redaction import secret_problem
from calendly_elt.calendly.helpers.token_endpoint import TokenEndpoint
from calendly_elt.calendly.helpers.token_responses import (
    lifetime,
)
from calendly_elt.calendly.helpers.token_store import TokenStore
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)

MAX_LINEAGE = 50


class Authenticator(Protocol):
    """Supplies the ``Authorization`` header and recovers from a 401."""

    def authorization(self) -> str:
        """The ``Authorization`` header value for the next request (``"Bearer ..."``)."""
        ...

    def refresh_after_401(self, stale: str) -> bool:
        """Get a new access token after ``stale`` was refused; False if impossible."""
        ...


class PersonalAccessTokenAuth:
    """A personal access token: a plain Bearer token that cannot be refreshed.

    Attributes:
        source: Where the token came from (for a 401's advice), never the token.
    """

    def __init__(self, token: str, *, source: str = "") -> None:
        token = (token or "").strip()
        if not token:
            raise ConfigError(
                "no Calendly access token: set CALENDLY_ACCESS_TOKEN or "
                "sources.calendly.access_token in .dlt/secrets.toml"
            )
        problem = secret_problem(token)
        if problem:  # a header cannot carry it: refuse before anything is sent
            where = f" from {source}" if source else ""
            raise ConfigError(f"the access token{where} {problem} (the value is not shown)")
        self._header = f"Bearer {token}"
        self.source = source

    def __repr__(self) -> str:
        return "PersonalAccessTokenAuth(token=***)"

    def authorization(self) -> str:
        """The ``Authorization`` header value: ``"Bearer <token>"``."""
        return self._header

    def refresh_after_401(self, stale: str) -> bool:
        """A personal access token cannot be refreshed: always False."""
        return False


def fingerprint(token: str) -> str:
    """A SHA-256 fingerprint of a token, safe to store and compare."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OAuthAuth:
    """OAuth access tokens, refreshed ahead of expiry or after a 401, rotation-safe.

    The refresh token to start from is the configured one, unless the token
    store holds a rotated descendant of it (its fingerprint is the store's
    ``origin``, the token the rotations started from, or in its ``lineage``, the
    last ``MAX_LINEAGE`` tokens rotated away): then the stored refresh token (and
    access token, if still valid) is used. A configured token unknown to the
    store is a fresh authorization and wins over the store; if Calendly refuses
    it as spent (``invalid_grant``), the stored one is tried before giving up.
    The store is checked writable before anything is sent, and every refresh
    re-reads it under its file lock, so a token another process rotated
    meanwhile is taken over, not refreshed again.
    A 5xx or lost connection at the token endpoint is retried ``max_retries``
    times; a 429 is waited out (its announced reset) for up to
    ``rate_limit_wait`` seconds and never spends those retries.

    Attributes:
        refresh_count: Successful refreshes so far.
        source: Where the refresh token in use came from (the token store, or
            the configured source given), never the token.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        auth_base_url: str,
        token_store: TokenStore,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] = _utc_now,
        refresh_margin: timedelta = timedelta(minutes=5),
        max_retries: int = 3,
        backoff_base: float = 0.5,
        rate_limit_wait: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS,
        sleep: Callable[[float], None] | None = None,
        timeout: float = 30.0,
        cancel: threading.Event | None = None,
        source: str = "",
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "OAuth needs CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET "
                "(or sources.calendly.client_id / client_secret in .dlt/secrets.toml)"
            )
        self._endpoint = TokenEndpoint(
            auth_base_url=auth_base_url,
            client_id=client_id,
            client_secret=client_secret,
            transport=transport,
            max_retries=max_retries,
            backoff_base=backoff_base,
            rate_limit_wait=rate_limit_wait,
            sleep=sleep,
            timeout=timeout,
            cancel=cancel,
        )
        self._store = token_store
        self._now = now
        self._margin = refresh_margin
        self._lock = threading.RLock()
        self._access_token: str | None = None
        self._expires_at: datetime | None = None
        self._lineage: list[str] = []
        self._origin: str | None = None  # fingerprint of the token the rotations started from
        self._stored_fallback: dict[str, Any] | None = None  # the store, when config won over it
        self.refresh_count = 0
        self.source = source
        self._store.check_writable()
        self._refresh_token = self._initial_refresh_token(refresh_token or "")

    def __repr__(self) -> str:
        return f"OAuthAuth(token_url={self._endpoint.url!r}, token_store={self._store!r})"

    @property
    def token_request_count(self) -> int:
        """HTTP requests sent to the token endpoint (retries included)."""
        return self._endpoint.request_count

    def _initial_refresh_token(self, configured: str) -> str:
        stored = self._store.load()
        stored_refresh = str(stored.get("refresh_token") or "") if stored else ""
        lineage = [str(item) for item in stored.get("lineage", [])] if stored else []
        origin = str(stored.get("origin") or "") if stored else ""
        ancestors = {origin, *lineage} - {""}
        descends = configured == stored_refresh or fingerprint(configured) in ancestors
        if stored_refresh and (descends or not configured):
            logger.info("using the rotated refresh token from %s", self._store.path)
            self.source = f"the OAuth token store {self._store.path}"
            self._lineage = lineage
            # a store written before origins were kept: the configured token it descends from
            self._origin = origin or (fingerprint(configured) if configured else None)
            self._adopt_stored_access_token(stored or {})
            return stored_refresh
        if not configured:
            raise ConfigError(
                "no OAuth refresh token: set CALENDLY_REFRESH_TOKEN "
                "(or sources.calendly.refresh_token in .dlt/secrets.toml)"
            )
        if stored_refresh:
            logger.info("the configured refresh token is newer than the token store's; using it")
            self._stored_fallback = stored
        self._origin = fingerprint(configured)
        return configured

    def _adopt_stored_access_token(self, stored: dict[str, Any]) -> None:
        self._access_token, self._expires_at = None, None
        access, expires_at = stored.get("access_token"), stored.get("expires_at")
        if not access or not expires_at:
            return
        try:
            self._expires_at = datetime.fromisoformat(str(expires_at))
        except ValueError:
            return
        self._access_token = str(access)

    def authorization(self) -> str:
        """The ``Authorization`` header, refreshing first if the token is missing or expiring."""
        with self._lock:
            if self._access_token is None or self._expiring():
                self._refresh(self._header())
            return f"Bearer {self._access_token}"

    def refresh_after_401(self, stale: str) -> bool:
        """Refresh once for all callers refused with ``stale``.

        Args:
            stale: The ``Authorization`` header value that got the 401.

        Returns:
            True: a token newer than ``stale`` is available (refreshed now or by
            another thread meanwhile).

        Raises:
            CalendlyAuthError: The token endpoint refused the refresh.
        """
        with self._lock:
            if self._access_token is not None and self._header() != stale:
                return True
            self._refresh(stale)
            return True

    def cancel(self) -> None:
        """Cut a retry wait short: a refresh waiting to retry raises ``RequestCancelled``."""
        self._endpoint.cancelled.set()

    def close(self) -> None:
        """Close the token endpoint's HTTP connections."""
        self._endpoint.close()

    def _expiring(self) -> bool:
        return self._expires_at is None or self._now() >= self._expires_at - self._margin

    def _header(self) -> str | None:
        return None if self._access_token is None else f"Bearer {self._access_token}"

    def _refresh(self, stale: str | None) -> None:
        """Get an access token newer than ``stale``, refreshing only if no other process did.

        Under the store's file lock: re-read the store; if another process
        rotated our refresh token meanwhile, take its tokens over (and stop
        there if its access token is fresh and not ``stale``); else refresh.
        """
        with self._store.locked():
            if self._take_over_stored_tokens(stale):
                return
            self._rotate()

    def _take_over_stored_tokens(self, stale: str | None) -> bool:
        """Adopt tokens another process stored since; True if their access token will do."""
        stored = self._store.load()
        stored_refresh = str(stored.get("refresh_token") or "") if stored else ""
        if not stored or not stored_refresh or stored_refresh == self._refresh_token:
            return False
        lineage = [str(item) for item in stored.get("lineage", [])]
        if fingerprint(self._refresh_token) not in lineage:
            return False  # another authorization altogether: ours is still ours to use
        logger.info(
            "another process refreshed the OAuth token; using the one in %s", self._store.path
        )
        self._refresh_token, self._lineage = stored_refresh, lineage
        self._origin = str(stored.get("origin") or "") or self._origin
        self._adopt_stored_access_token(stored)
        return self._access_token is not None and not self._expiring() and self._header() != stale

    def _rotate(self) -> None:
        """Exchange the refresh token; save the rotated one BEFORE using the new access token."""
        payload = self._request_with_fallback()
        old_refresh = self._refresh_token
        new_refresh = str(payload.get("refresh_token") or old_refresh)
        access = str(payload["access_token"])
        expires_at = self._now() + lifetime(payload)
        lineage = [*self._lineage, fingerprint(old_refresh)][-MAX_LINEAGE:]
        origin = self._origin or fingerprint(old_refresh)
        tokens = {
            "refresh_token": new_refresh,
            "access_token": access,
            "expires_at": expires_at.isoformat(),
            "obtained_at": self._now().isoformat(),
            "origin": origin,
            "lineage": lineage,
        }
        try:
            self._store.save(tokens)
        except TokenStoreError as error:
            logger.error("the rotated refresh token could not be saved; not using it")
            raise TokenStoreError(
                f"{error} - Calendly rotated the refresh token but it could not be saved; "
                "fix the token store path, then re-authorize the OAuth app"
            ) from error
        self._refresh_token, self._lineage, self._origin = new_refresh, lineage, origin
        self._access_token, self._expires_at = access, expires_at
        self.refresh_count += 1
        logger.info("OAuth access token refreshed; valid until %s", expires_at.isoformat())

    def _request_with_fallback(self) -> dict[str, Any]:
        """Refresh with our token; if Calendly calls a configured one spent, try the store's.

        The store may hold the descendant of a configured token it no longer
        recognises (a store from before ``origin`` was kept, its lineage trimmed).
        The configured token is then recorded as the store's origin.
        """
        try:
            return self._endpoint.refresh(self._refresh_token)
        except CalendlyAuthError as error:
            stored, self._stored_fallback = self._stored_fallback, None
            stored_refresh = str((stored or {}).get("refresh_token") or "")
            if error.title != "invalid_grant" or not stored_refresh:
                raise
            logger.warning(
                "Calendly refused the configured refresh token as spent; trying the one in %s",
                self._store.path,
            )
            payload = self._endpoint.refresh(stored_refresh)
        self.source = f"the OAuth token store {self._store.path}"
        self._refresh_token = stored_refresh
        self._lineage = [str(item) for item in (stored or {}).get("lineage", [])]
        return payload
