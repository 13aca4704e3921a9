"""What a Calendly response means: a body to return, a failure to retry, or a refusal.

The client (``client.py``) sends; this module reads the answer. Retryable:
a connection failure, a 2xx that is not a JSON object, 429 and 5xx. Every
other non-2xx is a refusal raised at once as the matching ``CalendlyApiError``
(``errors.py``), scrubbed of the token that was sent.
"""

from __future__ import annotations

from typing import Any

import httpx

from calendly_elt.calendly.helpers.errors import (
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyRateLimitError,
    CalendlyServerError,
    error_from_response,
    redact,
)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def success_body(method: str, response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object of a 2xx answer (``{}`` for a bodiless non-GET); None if it is not one."""
    if method != "GET" and not response.content:
        return {}  # 204 No Content (DELETE)
    return _json_object(response)


def retryable_error(
    sent: httpx.Response | httpx.TransportError, header: str, url: str
) -> CalendlyApiError | None:
    """The error to retry on (connection failure, a 2xx that is no JSON object, 429, 5xx)."""
    if isinstance(sent, httpx.TransportError):
        return _connection_error(sent, url)
    if 200 <= sent.status_code < 300:
        return _bad_body_error(sent)
    if sent.status_code == 429 or sent.status_code >= 500:
        return refusal(sent, header)
    return None


def _bad_body_error(response: httpx.Response) -> CalendlyServerError:
    return CalendlyServerError(
        response.status_code,
        "Invalid Response",
        "the response body is not a JSON object",
        url=str(response.request.url),
    )


def _connection_error(error: httpx.TransportError, url: str) -> CalendlyServerError:
    return CalendlyServerError(
        None,
        "Connection Failed",
        redact(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__),
        advice="Calendly could not be reached after every retry; check base_url and the network",
        url=url,
    )


def refusal(response: httpx.Response, header: str) -> CalendlyApiError:
    """The error for a refused response, scrubbed of the token that was sent."""
    token = header.split(" ", 1)[-1]
    return error_from_response(response, secrets=(token, header))


def exhausted(error: CalendlyApiError, retries: int) -> CalendlyApiError:
    """The error to raise once every retry failed: its message says how many there were."""
    if isinstance(error, CalendlyRateLimitError | CalendlyServerError | CalendlyAuthError):
        error.message = f"{error.message} (after {retries} retries)".strip()
    return error
