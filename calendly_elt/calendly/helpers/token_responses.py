"""What the OAuth token endpoint's answers mean: a token payload, a lifetime, a refusal."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import httpx

from calendly_elt.calendly.helpers.errors import (
    ADVICE_OAUTH_CLIENT,
    ADVICE_REFRESH_TOKEN_REJECTED,
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyRateLimitError,
    CalendlyServerError,
    redact,
)

if sys.platform != "win32":
    pass


DEFAULT_ACCESS_TOKEN_LIFETIME = timedelta(hours=2)


def lifetime(payload: dict[str, Any]) -> timedelta:
    """How long the access token lives (``expires_in``; 2 h when absent)."""
    try:
        return timedelta(seconds=float(payload["expires_in"]))
    except (KeyError, TypeError, ValueError):
        return DEFAULT_ACCESS_TOKEN_LIFETIME


def reset_seconds(response: httpx.Response) -> float:
    """Seconds until the token endpoint's rate window resets (0 if not said)."""
    try:
        return max(0.0, float(response.headers.get("X-RateLimit-Reset", "0")))
    except ValueError:
        return 0.0


def token_payload(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a token answer (a refusal if it is not one)."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise CalendlyAuthError(
            response.status_code,
            "Invalid Token Response",
            "the token endpoint answered without an access token",
            advice=ADVICE_OAUTH_CLIENT,
            url=str(response.request.url),
        )
    return payload


def oauth_error(response: httpx.Response) -> CalendlyApiError:
    """The error for a refused token request (``invalid_grant``...), token-free."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error") or body.get("title") or response.reason_phrase)
    description = str(body.get("error_description") or body.get("message") or "")
    url = str(response.request.url)
    if response.status_code == 429:
        return CalendlyRateLimitError(response.status_code, code, description, url=url)
    if response.status_code >= 500:
        return CalendlyServerError(response.status_code, code, description, url=url)
    advice = ADVICE_OAUTH_CLIENT if code == "invalid_client" else ADVICE_REFRESH_TOKEN_REJECTED
    return CalendlyAuthError(response.status_code, code, description, advice=advice, url=url)


def token_endpoint_unreachable(url: str, error: httpx.TransportError) -> CalendlyServerError:
    """The error when the token endpoint cannot be reached after every retry."""
    return CalendlyServerError(
        None,
        "Connection Failed",
        redact(f"{type(error).__name__}: {error}"),
        advice="the OAuth token endpoint could not be reached; check auth_base_url and the network",
        url=url,
    )
