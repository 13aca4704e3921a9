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
from datetime import UTC, date, datetime, timedelta
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
from calendly_elt.errors import ConfigError
from calendly_elt.webhooks.landing import DEFAULT_LANDING_DIR

Scope = Literal["organization", "user"]
SCOPES: tuple[str, ...] = ("organization", "user")
DEFAULT_TOKEN_STORE_PATH = ".dlt/calendly.token.json"
CONFIG_SECTION = "sources.calendly"

SECRET_KEYS = ("access_token", "client_id", "client_secret", "refresh_token")
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
    "each meeting's end; set no_show_rechecks (default 1h,1d,3d,7d,14d,30d) instead",
}
MISSING_CREDENTIALS = (
    "no Calendly credentials: set CALENDLY_ACCESS_TOKEN (a personal access token) or "
    "CALENDLY_CLIENT_ID + CALENDLY_CLIENT_SECRET + CALENDLY_REFRESH_TOKEN (an OAuth app), "
    "or the same keys under [sources.calendly] in .dlt/secrets.toml"
)


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
        requests_per_minute: Client-side rate limit (500 paid plans, 50 free).
        token_store_path: Where OAuth tokens are persisted (0600).
        checkpoint_events: A load package (checkpoint) is committed after the
            window in which this many events accumulated; 1 commits every window.
        webhook_landing_dir: Where ``webhooks serve`` lands deliveries; every run
            merges what landed there since the last merge (none: nothing to do).
        fail_on_quarantine: ``run``/``backfill`` exit 4 when a record was
            quarantined (the rest is loaded and the models built all the same).
        checkpoint_seconds: A checkpoint is also committed after the window
            that ends this many seconds after the last one (slow plans).
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
    requests_per_minute: int = settings.DEFAULT_REQUESTS_PER_MINUTE
    token_store_path: Path = Path(DEFAULT_TOKEN_STORE_PATH)
    checkpoint_events: int = settings.DEFAULT_CHECKPOINT_EVENTS
    webhook_landing_dir: Path = DEFAULT_LANDING_DIR
    fail_on_quarantine: bool = True
    checkpoint_seconds: int = 60
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    @property
    def auth_method(self) -> Literal["personal_access_token", "oauth"]:
        """Which credentials the run uses: a PAT wins over an OAuth app."""
        return "personal_access_token" if self.access_token else "oauth"


_INT_KEYS = (
    "lookback_days",
    "sweep_every_days",
    "horizon_days",
    "window_days",
    "max_concurrency",
    "requests_per_minute",
    "checkpoint_events",
    "checkpoint_seconds",
)
_MINIMUM = {
    "lookback_days": 0,
    "sweep_every_days": 0,
    "horizon_days": 0,
    "window_days": 1,
    "max_concurrency": 1,
    "requests_per_minute": 1,
    "checkpoint_events": 1,
    "checkpoint_seconds": 1,
}
_DAYS_MAXIMUM = 36_500  # a century: beyond it dates overflow, and no Calendly data is that old
_MAXIMUM = {
    "lookback_days": _DAYS_MAXIMUM,
    "sweep_every_days": _DAYS_MAXIMUM,
    "horizon_days": _DAYS_MAXIMUM,
    "window_days": _DAYS_MAXIMUM,
    "max_concurrency": 64,
    "checkpoint_seconds": 86_400,
}


def resolve_settings(*, require_credentials: bool = True, **explicit: Any) -> CalendlySettings:
    """Resolve every setting from arguments, dlt config/secrets, CALENDLY_* env, defaults.

    Args:
        require_credentials: Fail when no token or OAuth app is configured.
        **explicit: Values that win over everything else; ``None`` means "not given".

    Returns:
        The validated settings.

    Raises:
        ConfigError: A value is invalid or no credentials are configured.
    """
    unknown = set(explicit) - {item.name for item in fields(CalendlySettings)}
    if unknown:
        raise ConfigError(f"unknown Calendly setting(s): {', '.join(sorted(unknown))}")
    _refuse_retired_keys()
    raw = {item.name: _lookup(item.name, explicit) for item in fields(CalendlySettings)}
    values = {key: _coerce(key, value) for key, value in raw.items() if value is not None}
    resolved = CalendlySettings(**values)
    if require_credentials:
        _require_credentials(resolved)
    return resolved


def _refuse_retired_keys() -> None:
    """A key that no longer means anything is an error, not silently ignored."""
    for key, replacement in RETIRED_KEYS.items():
        if _from_dlt(key) not in (None, ""):
            raise ConfigError(f"{CONFIG_SECTION}.{key} is no longer read: {replacement}")


def _lookup(key: str, explicit: Mapping[str, Any]) -> Any:
    for candidate in (explicit.get(key), _from_dlt(key), _from_env(key)):
        if candidate is not None and candidate != "":
            return candidate
    return None


def _from_dlt(key: str) -> Any:
    accessor = dlt.secrets if key in SECRET_KEYS else dlt.config
    try:
        return accessor.get(f"{CONFIG_SECTION}.{key}")
    except Exception as error:  # a broken toml file must read as a config error
        raise ConfigError(f"cannot read {CONFIG_SECTION}.{key}: {error}") from error


def _from_env(key: str) -> str | None:
    name = ENV_NAMES.get(key)
    return os.environ.get(name) if name else None


def _coerce(key: str, value: Any) -> Any:
    if key in _INT_KEYS:
        return _as_int(key, value)
    if key == "scope":
        return _as_scope(value)
    if key == "no_show_rechecks":
        return parse_recheck_ages(value)
    if key == "fail_on_quarantine":
        return _as_bool(key, value)
    if key == "start_date":
        return parse_start_date(value)
    if key in ("token_store_path", "webhook_landing_dir"):
        return Path(str(value)).expanduser()
    if key in ("base_url", "auth_base_url"):
        return _as_url(key, value)
    if key == "organization":
        return _as_organization(value)
    return str(value)


def _as_organization(value: Any) -> str:
    text = str(value).strip()
    if not (text.startswith(("http://", "https://")) and "/organizations/" in text):
        raise ConfigError(
            "organization must be an organization URI like "
            f"https://api.calendly.com/organizations/<uuid>, got {text!r}"
        )
    return text


def _as_int(key: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{key} must be a whole number, got {value!r}") from error
    if number < _MINIMUM[key]:
        raise ConfigError(f"{key} must be at least {_MINIMUM[key]}, got {number}")
    if key in _MAXIMUM and number > _MAXIMUM[key]:
        raise ConfigError(f"{key} must be at most {_MAXIMUM[key]}, got {number}")
    return number


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _as_scope(value: Any) -> Scope:
    text = str(value).strip().lower()
    if text not in SCOPES:
        raise ConfigError(f"scope must be 'organization' or 'user', got {value!r}")
    return text  # type: ignore[return-value]


def _as_url(key: str, value: Any) -> str:
    text = str(value).strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{key} must be an http(s) URL, got {text!r}")
    return text


def parse_start_date(value: Any) -> datetime:
    """Parse a start date (``2024-01-31``, an ISO timestamp, or a date) as aware UTC.

    Args:
        value: The configured value.

    Returns:
        Midnight UTC of a date, or the timestamp converted to UTC.

    Raises:
        ConfigError: The value is not a date or timestamp.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise ConfigError(
                f"start_date must be a date like 2024-01-31 or an ISO timestamp, got {value!r}"
            ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
        auth = PersonalAccessTokenAuth(resolved.access_token)
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
            **extra,
        )
    return CalendlyClient(
        resolved.base_url,
        auth,
        requests_per_minute=resolved.requests_per_minute,
        max_concurrency=resolved.max_concurrency,
        transport=transport,
        cancel=cancel,
        **client_options,
    )
