"""Resolution of the Calendly source's configuration and secrets.

One place decides every setting, in this order (first found wins):

1. an explicit argument (a CLI option, or a value dlt injected into
   ``calendly_source`` from ``[sources.calendly]`` / ``SOURCES__CALENDLY__*``);
2. dlt's providers, looked up at ``sources.calendly.<key>`` (environment
   ``SOURCES__CALENDLY__<KEY>``, ``.dlt/secrets.toml``, ``.dlt/config.toml``);
3. the environment names the Calendly guides use: ``CALENDLY_BASE_URL``,
   ``CALENDLY_ACCESS_TOKEN``, ``CALENDLY_CLIENT_ID``, ``CALENDLY_CLIENT_SECRET``,
   ``CALENDLY_REFRESH_TOKEN`` (and ``CALENDLY_AUTH_BASE_URL``);
4. the defaults in ``settings.py``.

Empty strings count as "not set" (the example secrets file ships ``""``).
Invalid values raise :class:`ConfigError` with a message that names the key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import dlt
import httpx

from calendly_elt.calendly import settings
from calendly_elt.calendly.helpers.auth import (
    Authenticator,
    OAuthAuth,
    PersonalAccessTokenAuth,
    TokenStore,
)
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.no_shows import DEFAULT_NO_SHOW_RECHECKS, parse_recheck_ages
from calendly_elt.calendly.helpers.rate_limit import DEFAULT_RATE_LIMIT_WAIT_SECONDS
from calendly_elt.calendly.validation import SCOPES, SECRET_KEYS, Scope, coerce, parse_start_date
from calendly_elt.errors import ConfigError, one_line
from calendly_elt.webhooks.landing import DEFAULT_LANDING_DIR

__all__ = [
    "SCOPES",
    "CalendlySettings",
    "Scope",
    "build_client",
    "parse_start_date",
    "resolve_settings",
]
DEFAULT_TOKEN_STORE_PATH = ".dlt/calendly.token.json"
CONFIG_SECTION = "sources.calendly"

ENV_NAMES: dict[str, str] = {
    "base_url": "CALENDLY_BASE_URL",
    "auth_base_url": "CALENDLY_AUTH_BASE_URL",
    "access_token": "CALENDLY_ACCESS_TOKEN",
    "client_id": "CALENDLY_CLIENT_ID",
    "client_secret": "CALENDLY_CLIENT_SECRET",
    "refresh_token": "CALENDLY_REFRESH_TOKEN",
}
RETIRED_KEYS = {
    "no_show_lookback_days": "late no-show marks are read on a schedule of ages after "
    "each meeting's end; set no_show_rechecks (default 1h,1d..7d,10d,14d,21d,30d) instead",
}
MISSING_CREDENTIALS = (
    "no Calendly credentials: set CALENDLY_ACCESS_TOKEN (a personal access token) or "
    "CALENDLY_CLIENT_ID + CALENDLY_CLIENT_SECRET + CALENDLY_REFRESH_TOKEN (an OAuth app), "
    "or the same keys under [sources.calendly] in .dlt/secrets.toml"
)
_DERIVED = frozenset({"secret_sources"})  # set by resolve_settings, not configured


@dataclass(frozen=True)
class CalendlySettings:
    """Every setting of one extraction, resolved and validated.

    Attributes:
        base_url: API root (``https://api.calendly.com`` or a simulator).
        auth_base_url: OAuth root (``https://auth.calendly.com``).
        organization: Organization URI; None means the token user's current one.
        scope: ``organization`` (admin token, whole org) or ``user`` (the token
            user's own events).
        start_date: First instant the initial backfill reads; None means two
            years before the first run.
        lookback_days: Days before the last successful run that later runs re-read.
        no_show_rechecks: Ages after a meeting's end at which its invitees are
            re-read for late no-show marks (``helpers/no_shows.py``).
        horizon_days: Days after now that every run reads (future bookings).
        sweep_every_days: Every this many days a run lists every window from the
            backfill start, and beyond the horizon (0: never; see ``windows.sweep_due``).
        window_days: Length of one ``min_start_time``/``max_start_time`` window.
        max_concurrency: Invitee calls in flight at once.
        requests_per_minute: A ceiling on the client's rate; None (the default)
            follows the limit Calendly announces (``X-RateLimit-Limit``) up or
            down, starting at 500 (paid plans; 50 on the free plan).
        token_store_path: Where OAuth tokens are persisted (0600).
        checkpoint_events: A load package (checkpoint) is committed after the
            window in which this many events accumulated; 1 commits every window.
        checkpoint_seconds: A checkpoint is also committed after the window
            that ends this many seconds after the last one (slow plans).
        webhook_landing_dir: Where ``webhooks serve`` lands deliveries; every run
            merges what landed there since the last merge (none: nothing to do).
        fail_on_quarantine: ``run``/``backfill`` exit 4 when a record was
            quarantined (the rest is loaded and the models built all the same).
        rate_limit_wait_seconds: How long one request may keep waiting out 429s
            (Calendly's announced resets) before the run fails.
        secret_sources: Where each secret came from (``the environment variable
            CALENDLY_ACCESS_TOKEN``, ``.dlt/secrets.toml``...), never its value.
    """

    base_url: str = settings.DEFAULT_BASE_URL
    auth_base_url: str = settings.DEFAULT_AUTH_BASE_URL
    organization: str | None = None
    scope: Scope = "organization"
    start_date: datetime | None = None
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS
    no_show_rechecks: tuple[timedelta, ...] = parse_recheck_ages(DEFAULT_NO_SHOW_RECHECKS)
    horizon_days: int = settings.DEFAULT_HORIZON_DAYS
    sweep_every_days: int = settings.DEFAULT_SWEEP_EVERY_DAYS
    window_days: int = settings.DEFAULT_WINDOW_DAYS
    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY
    requests_per_minute: int | None = None
    token_store_path: Path = Path(DEFAULT_TOKEN_STORE_PATH)
    checkpoint_events: int = settings.DEFAULT_CHECKPOINT_EVENTS
    checkpoint_seconds: int = 60
    webhook_landing_dir: Path = DEFAULT_LANDING_DIR
    fail_on_quarantine: bool = True
    rate_limit_wait_seconds: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    secret_sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def auth_method(self) -> Literal["personal_access_token", "oauth"]:
        """Which credentials the run uses: a PAT wins over an OAuth app."""
        return "personal_access_token" if self.access_token else "oauth"


def resolve_settings(*, require_credentials: bool = True, **explicit: Any) -> CalendlySettings:
    """Resolve every setting from arguments, dlt config/secrets, CALENDLY_* env, defaults.

    Every value gets the same checks wherever it came from (``validation.py``);
    where each secret came from is kept in ``secret_sources`` (a description,
    never the value) for messages such as a 401's advice.

    Args:
        require_credentials: Fail when no token or OAuth app is configured.
        **explicit: Values that win over everything else; ``None`` means "not given".

    Returns:
        The validated settings.

    Raises:
        ConfigError: A value is invalid or no credentials are configured.
    """
    unknown = set(explicit) - {item.name for item in fields(CalendlySettings)} - _DERIVED
    if unknown:
        raise ConfigError(f"unknown Calendly setting(s): {', '.join(sorted(unknown))}")
    _refuse_retired_keys()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for item in fields(CalendlySettings):
        if item.name in _DERIVED:
            continue
        value, source = _lookup(item.name, explicit)
        if value is not None:
            values[item.name] = coerce(item.name, value, source)
            if item.name in SECRET_KEYS:
                sources[item.name] = source
    resolved = CalendlySettings(**values, secret_sources=sources)
    if require_credentials:
        _require_credentials(resolved)
    return resolved


def _refuse_retired_keys() -> None:
    """A key that no longer means anything is an error, not silently ignored."""
    for key, replacement in RETIRED_KEYS.items():
        if _from_dlt(key)[0] not in (None, ""):
            raise ConfigError(f"{CONFIG_SECTION}.{key} is no longer read: {replacement}")


def _lookup(key: str, explicit: Mapping[str, Any]) -> tuple[Any, str]:
    """The first value set for ``key`` and where it came from (a description, not the value)."""
    given = explicit.get(key)
    if given is not None and given != "":
        return given, _explicit_source(key, given)
    value, source = _from_dlt(key)
    if value is not None and value != "":
        return value, source
    name = ENV_NAMES.get(key)
    value = os.environ.get(name) if name else None
    if value is not None and value != "":
        return value, f"the environment variable {name}"
    return None, ""


def _explicit_source(key: str, value: Any) -> str:
    """Where a value passed in came from: dlt injects config into ``calendly_source`` too."""
    found, source = _from_dlt(key)
    if found is not None and found == value:
        return source
    name = ENV_NAMES.get(key)
    if name and os.environ.get(name) == value:
        return f"the environment variable {name}"
    return f"the {key} argument"


def _from_dlt(key: str) -> tuple[Any, str]:
    """The value dlt's providers hold at ``sources.calendly.<key>``, and which one held it."""
    accessor = dlt.secrets if key in SECRET_KEYS else dlt.config
    try:
        value, traces = accessor._get_value(f"{CONFIG_SECTION}.{key}")
    except Exception as error:  # a broken toml file must read as a config error
        raise ConfigError(f"cannot read {CONFIG_SECTION}.{key}: {one_line(error)}") from None
    found = next((trace for trace in traces if trace.value is not None), None)
    if found is None:
        return value, ""
    return value, describe_provider(found.provider, found.key, found.provider_location)


def describe_provider(provider: str, effective_key: str, location: str) -> str:
    """A dlt provider lookup as a user reads it: an environment variable or a file."""
    if provider.lower().startswith("environment"):
        return f"the environment variable {effective_key}"
    path = Path(location.removeprefix("global:")) if location else Path(provider)
    if path.suffix == ".toml" and (len(path.parts) == 1 or path.parent == Path(".dlt")):
        return f".dlt/{path.name}"
    return str(path)


def _require_credentials(resolved: CalendlySettings) -> None:
    if resolved.access_token:
        return
    oauth = (resolved.client_id, resolved.client_secret, resolved.refresh_token)
    if not any(oauth):
        raise ConfigError(MISSING_CREDENTIALS)
    missing = [name for name, value in zip(SECRET_KEYS[1:], oauth, strict=True) if not value]
    if missing == ["refresh_token"] and _store_has_refresh_token(resolved.token_store_path):
        return  # `calendly-elt auth login` stored the tokens: the store is enough
    if missing:
        names = ", ".join(ENV_NAMES[name] for name in missing)
        raise ConfigError(
            f"incomplete OAuth credentials: set {names} (or run `calendly-elt auth login`, "
            "or use a personal token)"
        )


def _store_has_refresh_token(path: Path) -> bool:
    """Whether the OAuth token store holds a refresh token (``auth login`` wrote one)."""
    stored = TokenStore(path).load()
    return bool(stored and stored.get("refresh_token"))


def build_client(
    resolved: CalendlySettings,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
    cancel: threading.Event | None = None,
    **client_options: Any,
) -> CalendlyClient:
    """Build the HTTP client with the configured credentials.

    Args:
        resolved: The settings.
        transport: An httpx transport (the in-process simulator in tests).
        now: The clock OAuth uses to refresh ahead of expiry.
        cancel: Set it to stop the client (Ctrl-C): every rate-limit and retry
            wait, the token refresh's included, wakes and raises ``RequestCancelled``.
        **client_options: Extra ``CalendlyClient`` arguments (``sleep``, ``clock``...).

    Returns:
        A ``CalendlyClient``.
    """
    cancel = cancel if cancel is not None else threading.Event()
    auth: Authenticator
    if resolved.access_token:
        source = resolved.secret_sources.get("access_token", "")
        auth = PersonalAccessTokenAuth(resolved.access_token, source=source)
    else:
        extra: dict[str, Any] = {"now": now} if now is not None else {}
        auth = OAuthAuth(
            client_id=resolved.client_id or "",
            client_secret=resolved.client_secret or "",
            refresh_token=resolved.refresh_token or "",
            auth_base_url=resolved.auth_base_url,
            token_store=TokenStore(resolved.token_store_path),
            transport=transport,
            cancel=cancel,
            rate_limit_wait=resolved.rate_limit_wait_seconds,
            source=resolved.secret_sources.get("refresh_token", ""),
            **extra,
        )
    return CalendlyClient(
        resolved.base_url,
        auth,
        requests_per_minute=resolved.requests_per_minute,
        max_concurrency=resolved.max_concurrency,
        transport=transport,
        cancel=cancel,
        **{"rate_limit_wait": resolved.rate_limit_wait_seconds, **client_options},
    )
