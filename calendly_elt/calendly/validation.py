"""One validation of every Calendly setting, whatever its source.

A value arrives as a string from the environment, typed from TOML (an int, a
float, a boolean, ``inf``) or as a Python value from a parameter; each key
gets the same checks either way, and a refusal is one :class:`ConfigError`
line naming the key and where the value came from (``source``). Integers
refuse floats (``1.5``, even ``2.0``), booleans and ``inf``/``nan``.

Secrets are checked for what an HTTP header cannot carry (line breaks,
control characters, spaces, non-ASCII) before any request is sent, and the
message never quotes them.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from calendly_elt.calendly.helpers.no_shows import parse_recheck_ages
from calendly_elt.calendly.helpers.redaction import secret_problem
from calendly_elt.errors import ConfigError

Scope = Literal["organization", "user"]
SCOPES: tuple[str, ...] = ("organization", "user")

INT_MINIMUM = {
    "lookback_days": 0,
    "sweep_every_days": 0,
    "checkpoint_seconds": 1,
    "horizon_days": 0,
    "window_days": 1,
    "max_concurrency": 1,
    "requests_per_minute": 1,
    "checkpoint_events": 1,
}
DAYS_MAXIMUM = 36_500  # a century: beyond it dates overflow, and no Calendly data is that old
INT_MAXIMUM = {
    "lookback_days": DAYS_MAXIMUM,
    "sweep_every_days": DAYS_MAXIMUM,
    "checkpoint_seconds": 86_400,
    "horizon_days": DAYS_MAXIMUM,
    "window_days": DAYS_MAXIMUM,
    "max_concurrency": 64,
}
SECONDS_RANGE = {"rate_limit_wait_seconds": (1.0, 7 * 24 * 3600.0)}
SECRET_KEYS = ("access_token", "client_id", "client_secret", "refresh_token")
BOOL_KEYS = ("fail_on_quarantine",)


def coerce(key: str, value: Any, source: str) -> Any:
    """The validated value of setting ``key``.

    Args:
        key: The setting's name (a ``CalendlySettings`` field).
        value: The raw value (a string, a TOML-typed value or a parameter).
        source: Where it came from, for the message (``.dlt/config.toml``...).

    Returns:
        The value in the field's type.

    Raises:
        ConfigError: The value is invalid; the message names the key and the source.
    """
    if key in INT_MINIMUM:
        return as_int(key, value, source)
    if key in SECONDS_RANGE:
        return as_seconds(key, value, source)
    if key in SECRET_KEYS:
        return as_secret(key, value, source)
    if key == "scope":
        return _as_scope(value, source)
    if key == "no_show_rechecks":
        return parse_recheck_ages(value)
    if key == "start_date":
        return parse_start_date(value)
    if key in ("token_store_path", "webhook_landing_dir"):
        return Path(str(value)).expanduser()
    if key in BOOL_KEYS:
        return as_bool(key, value, source)
    if key in ("base_url", "auth_base_url"):
        return _as_url(key, value, source)
    if key == "organization":
        return _as_organization(value, source)
    return str(value)


def _where(key: str, source: str) -> str:
    return f"{key} (from {source})" if source else key


def _from(source: str) -> str:
    return f" (from {source})" if source else ""


def as_int(key: str, value: Any, source: str = "") -> int:
    """A whole number within the key's range; floats, booleans, inf and nan are refused."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ConfigError(f"{key} must be a whole number, got {value!r}{_from(source)}")
    return _in_range(key, number, source)


def _in_range(key: str, number: int, source: str) -> int:
    low, high = INT_MINIMUM[key], INT_MAXIMUM.get(key)
    if number < low:
        raise ConfigError(f"{key} must be at least {low}, got {number}{_from(source)}")
    if high is not None and number > high:
        raise ConfigError(f"{key} must be at most {high}, got {number}{_from(source)}")
    return number


def as_bool(key: str, value: Any, source: str = "") -> bool:
    """A true/false setting: a TOML boolean, or true/false/1/0/yes/no/on/off as text.

    Raises:
        ConfigError: Anything else (the message names the key and the source).
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}{_from(source)}")


def as_seconds(key: str, value: Any, source: str = "") -> float:
    """A finite number of seconds within the key's range (booleans, inf and nan refused)."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(f"{key} must be a number of seconds, got {value!r}{_from(source)}")
    low, high = SECONDS_RANGE[key]
    if not low <= seconds <= high:
        raise ConfigError(f"{key} must be {low:g} to {high:g} s, got {seconds:g}{_from(source)}")
    return seconds


def as_secret(key: str, value: Any, source: str = "") -> str:
    """A secret an HTTP header or form can carry; the message never quotes it.

    Raises:
        ConfigError: The value is not a string, or has line breaks, control
            characters, spaces or non-ASCII characters.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{_where(key, source)} must be a string, got a {type(value).__name__}")
    problem = secret_problem(value)
    if problem:
        raise ConfigError(
            f"{_where(key, source)} {problem}: a token is one line of printable ASCII "
            "without spaces; copy it again (the value is not shown)"
        )
    return value


def _as_scope(value: Any, source: str) -> Scope:
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if text not in SCOPES:
        raise ConfigError(f"scope must be 'organization' or 'user', got {value!r}{_from(source)}")
    return text  # type: ignore[return-value]


def _as_url(key: str, value: Any, source: str) -> str:
    text = str(value).strip().rstrip("/") if isinstance(value, str) else ""
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{key} must be an http(s) URL, got {value!r}{_from(source)}")
    return text


def _as_organization(value: Any, source: str) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if not (text.startswith(("http://", "https://")) and "/organizations/" in text):
        raise ConfigError(
            "organization must be an organization URI like "
            f"https://api.calendly.com/organizations/<uuid>, got {value!r}{_from(source)}"
        )
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
            if not isinstance(value, str):
                raise ValueError(value)
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise ConfigError(
                f"start_date must be a date like 2024-01-31 or an ISO timestamp, got {value!r}"
            ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
