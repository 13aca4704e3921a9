"""What a Calendly response means: a body to return, a failure to retry, or a refusal.

The client (``client.py``) sends; this module reads the answer. Retryable:
a connection failure, a 2xx that is not a JSON object, 429 and 5xx. An HTML
page where JSON was expected (a 2xx or a 404/405 in ``text/html``) is not
retried: the base URL is not the Calendly API (:func:`not_the_api`). Every
other non-2xx is a refusal raised at once as the matching ``CalendlyApiError``
(``errors.py``), scrubbed of the token that was sent.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from calendly_elt.calendly.helpers.errors import (
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyNotApiError,
    CalendlyRateLimitError,
    CalendlyServerError,
    error_from_response,
    looks_like_html,
    not_api_error,
    redact,
    unauthenticated_advice,
)
from calendly_elt.calendly.helpers.rate_limit import RateLimiter, announced_wait

logger = logging.getLogger(__name__)

HTML_MEANS_NOT_THE_API = (404, 405)  # a web server's page; a 5xx page may be a passing outage


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


def answer_body(method: str, response: httpx.Response, base_url: str) -> dict[str, Any] | None:
    """The body of a 2xx JSON answer, else None.

    Raises:
        CalendlyNotApiError: The answer is an HTML page (base_url is not the API).
    """
    html = not_the_api(response, base_url)
    if html is not None:
        raise html
    if 200 <= response.status_code < 300:
        return success_body(method, response)
    return None


def refusal(response: httpx.Response, header: str, auth: object = None) -> CalendlyApiError:
    """The error for a refused response, scrubbed of the token that was sent.

    A 401's advice names where the refused credential came from (``auth.source``).
    """
    token = header.split(" ", 1)[-1]
    error = error_from_response(response, secrets=(token, header))
    if isinstance(error, CalendlyAuthError) and auth is not None:
        kind = "oauth" if hasattr(auth, "refresh_count") else "personal_access_token"
        error = with_advice(error, unauthenticated_advice(kind, str(getattr(auth, "source", ""))))
    return error


def wait_out_rate_limit(
    limiter: RateLimiter, what: str, response: httpx.Response, arrivals: list[float], budget: float
) -> None:
    """Pause every thread for the reset a 429 announces, within the request's time budget.

    Args:
        limiter: The client's shared limiter (every thread waits on it).
        what: ``METHOD /path`` for the log.
        response: The 429.
        arrivals: When each 429 of this request arrived (the clock of the limiter).
        budget: Seconds of 429s the request may wait out (``rate_limit_wait_seconds``).

    Raises:
        CalendlyRateLimitError: The request has met 429s for ``budget`` seconds.
    """
    waited = arrivals[-1] - arrivals[0]
    left = budget - waited
    if left <= 0:
        logger.warning("%s: still rate limited after %.0f s; giving up", what, waited)
        raise rate_limit_exhausted(response, waited)
    seconds, reason = announced_wait(response.headers, len(arrivals))
    seconds = min(seconds, left)
    logger.info("%s: rate limited by Calendly (429); waiting %.1f s (%s)", what, seconds, reason)
    limiter.pause(seconds)


def not_the_api(response: httpx.Response, base_url: str) -> CalendlyNotApiError | None:
    """The error for an HTML page where Calendly's JSON was expected, else None."""
    status = response.status_code
    if (200 <= status < 300 or status in HTML_MEANS_NOT_THE_API) and looks_like_html(response):
        return not_api_error(response, base_url)
    return None


def exhausted(error: CalendlyApiError, retries: int) -> CalendlyApiError:
    """The error to raise once every retry failed: its message says how many there were."""
    if isinstance(error, CalendlyRateLimitError | CalendlyServerError | CalendlyAuthError):
        error.message = f"{error.message} (after {retries} retries)".strip()
        error.args = (str(error),)
    return error


def rate_limit_exhausted(response: httpx.Response, waited: float) -> CalendlyRateLimitError:
    """The error once a request waited out 429s for its whole time budget."""
    url = str(response.request.url) if response.request is not None else ""
    return CalendlyRateLimitError(
        429, None, f"Calendly kept rate limiting for {waited:.0f} s", url=url
    )


def with_advice(error: CalendlyApiError, advice: str) -> CalendlyApiError:
    """``error`` with ``advice`` instead of its default (e.g. a 401 naming the token's source)."""
    error.advice = advice
    error.args = (str(error),)
    return error
