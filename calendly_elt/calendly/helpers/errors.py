"""Errors of the Calendly API, one class per kind of refusal, each with advice.

Every error carries what Calendly said (``status``, ``title``, ``message``,
``details``) plus ``advice`` (what the user can do) and ``url`` (the request
path only: query strings can carry e-mail addresses or page tokens). Its
``str`` is one line::

    403 Permission Denied: You do not have permission (organization: ...) - <advice>

A 403 (or a 400) whose body names a scope (``routing_forms:read``) is a
token without that scope: ``missing_scopes`` lists them and the advice says
how to get a token that has them.

Messages never contain tokens: text that comes from the network is passed
through :func:`redact` before it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import httpx

from calendly_elt.calendly.helpers.redaction import path_of, redact
from calendly_elt.errors import CalendlyEltError

ADVICE_UNAUTHENTICATED = (
    "the access token is invalid, expired or revoked; check where it is configured "
    "(CALENDLY_ACCESS_TOKEN, SOURCES__CALENDLY__ACCESS_TOKEN or .dlt/secrets.toml), "
    "or re-authorize the OAuth app"
)
ADVICE_ORGANIZATION_SCOPE = (
    "the token's user is not an org admin: read only their own events with "
    'scope = "user" under [sources.calendly] in .dlt/config.toml '
    "(or the environment variable SOURCES__CALENDLY__SCOPE=user); "
    "if organization is set, check it is the token user's organization"
)
ADVICE_FORBIDDEN = "the token's user may not read this resource"
ADVICE_NOT_FOUND = "the resource or plan feature is not available"
ADVICE_PAGE_TOKEN_EXPIRED = "page token expired; the run restarts the window"
ADVICE_BAD_REQUEST = "Calendly rejected the request parameters"
ADVICE_RATE_LIMITED = (
    "lower max_concurrency / requests_per_minute (free plans allow 50 requests per minute) "
    "or retry later; rate_limit_wait_seconds sets how long a request waits out 429s"
)
ADVICE_SERVER = "Calendly kept failing after every retry; try again later"
ADVICE_NOT_API = (
    "check base_url: it should be Calendly's API root, https://api.calendly.com "
    "(not the web app or a proxy's page)"
)
ADVICE_PAGING_LOOP = (
    "Calendly's paging is looping; this is not transient: report it with the path, and "
    "meanwhile lower window_days so that each window fits in fewer pages"
)
ADVICE_REFRESH_TOKEN_REJECTED = (
    "re-authorize the OAuth app: the refresh token was already used (refresh tokens are "
    "single-use) or revoked; store the new refresh token"
)
ADVICE_OAUTH_CLIENT = "check CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET"
SCOPE_STATUSES = (400, 403)
_SCOPE_NAME = re.compile(r"\b([a-z][a-z_]*:(?:read|write))\b")


class CalendlyApiError(CalendlyEltError):
    """Calendly refused a request, or could not be reached after every retry."""

    default_title = "Calendly API Error"
    default_advice = ""

    def __init__(
        self,
        status: int | None,
        title: str | None = None,
        message: str = "",
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
        advice: str | None = None,
        url: str = "",
        missing_scopes: Sequence[str] = (),
    ) -> None:
        self.status = status
        self.missing_scopes = list(missing_scopes)
        self.title = redact(title or self.default_title)
        self.message = redact(message)
        self.details: list[dict[str, str]] = [
            {
                "parameter": redact(str(detail.get("parameter") or "")),
                "message": redact(str(detail.get("message") or "")),
            }
            for detail in details or []
        ]
        self.advice = advice if advice is not None else self.default_advice
        self.url = path_of(url) if url else ""
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state (the keyword-only constructor cannot be replayed from ``args``)."""
        return _rebuild_error, (type(self), dict(self.__dict__))

    def __str__(self) -> str:
        head = f"{self.status} {self.title}" if self.status else self.title
        text = f"{head}: {self.message}" if self.message else head
        if self.details:
            text += f" ({self._details_text()})"
        if self.advice:
            text += f" - {self.advice}"
        return " ".join(text.split())

    def _details_text(self) -> str:
        parts = []
        for detail in self.details:
            parameter, message = detail["parameter"], detail["message"]
            parts.append(f"{parameter}: {message}" if parameter else message)
        return "; ".join(parts)


def _rebuild_error(cls: type[CalendlyApiError], state: dict[str, Any]) -> CalendlyApiError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (str(error),)
    return error


class CalendlyBadRequestError(CalendlyApiError):
    """400: invalid parameters (count out of range, missing scope, ...)."""

    default_title = "Invalid Argument"
    default_advice = ADVICE_BAD_REQUEST


class CalendlyPageTokenExpiredError(CalendlyBadRequestError):
    """400 on a ``next_page`` URL: the page token is too old; re-read the window."""

    default_advice = ADVICE_PAGE_TOKEN_EXPIRED


class CalendlyAuthError(CalendlyApiError):
    """401, or the OAuth token endpoint refused to refresh (``invalid_grant`` ...)."""

    default_title = "Unauthenticated"
    default_advice = ADVICE_UNAUTHENTICATED


class CalendlyForbiddenError(CalendlyApiError):
    """403: the token's user may not read this, or the token lacks a scope (``missing_scopes``)."""

    default_title = "Permission Denied"
    default_advice = ADVICE_FORBIDDEN


class CalendlyNotFoundError(CalendlyApiError):
    """404: unknown resource, or a feature the plan does not include."""

    default_title = "Resource Not Found"
    default_advice = ADVICE_NOT_FOUND


class CalendlyRateLimitError(CalendlyApiError):
    """429 after every retry."""

    default_title = "Too Many Requests"
    default_advice = ADVICE_RATE_LIMITED


class CalendlyServerError(CalendlyApiError):
    """5xx or connection failures after every retry."""

    default_title = "Server Error"
    default_advice = ADVICE_SERVER


class CalendlyNotApiError(CalendlyApiError):
    """The base URL answered with an HTML page: it is not the Calendly API."""

    default_title = "Not the Calendly API"
    default_advice = ADVICE_NOT_API


class CalendlyPagingLoopError(CalendlyServerError):
    """Calendly returned a ``next_page`` it had already returned: following it would loop."""

    default_title = "Paging Loop"
    default_advice = ADVICE_PAGING_LOOP

    def __init__(self, path: str, next_page: str) -> None:
        super().__init__(
            None,
            None,
            f"Calendly returned the same next_page twice: {path_of(next_page)}",
            url=path,
        )


def unauthenticated_advice(kind: str, source: str) -> str:
    """The 401 advice naming where the refused credential came from (never its value).

    Args:
        kind: ``personal_access_token`` or ``oauth``.
        source: Where it came from (``the environment variable CALENDLY_ACCESS_TOKEN``,
            ``.dlt/secrets.toml``, ``the OAuth token store ...``); empty if unknown.
    """
    if kind == "oauth":
        where = f" (the refresh token came from {source})" if source else ""
        return (
            "Calendly refused the OAuth access token even after a refresh"
            f"{where}; re-authorize with `calendly-elt auth login`"
        )
    if not source:
        return ADVICE_UNAUTHENTICATED
    return (
        f"the access token from {source} is invalid, expired or revoked; replace it there "
        "with a valid personal access token"
    )


def looks_like_html(response: httpx.Response) -> bool:
    """Whether a response is a web page (``text/html``, or a body starting with ``<``)."""
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content[:64].lstrip()[:1] == b"<"


def not_api_error(response: httpx.Response, base_url: str) -> CalendlyNotApiError:
    """The error for an HTML page where the API was expected (base_url is wrong)."""
    return CalendlyNotApiError(
        response.status_code,
        None,
        f"{base_url} answered with an HTML page, not JSON: it does not look like the Calendly API",
        url=str(response.request.url) if _has_request(response) else "",
    )


class TokenStoreError(CalendlyEltError):
    """The OAuth token store file cannot be read or written."""


_CLASS_BY_STATUS: dict[int, type[CalendlyApiError]] = {
    400: CalendlyBadRequestError,
    401: CalendlyAuthError,
    403: CalendlyForbiddenError,
    404: CalendlyNotFoundError,
    429: CalendlyRateLimitError,
}


def error_from_response(
    response: httpx.Response, *, advice: str | None = None, secrets: Iterable[str] = ()
) -> CalendlyApiError:
    """Build the error for a refused response from Calendly's error body.

    The advice depends on the request: 403 on an ``organization=`` query gets
    the org-admin advice, 400 on a ``page_token=`` URL is an expired page token.

    Args:
        response: The non-2xx response.
        advice: Advice to use instead of the one derived from the status.
        secrets: Values that must not appear in the error (the token sent).

    Returns:
        The matching :class:`CalendlyApiError` subclass instance (not raised).
    """
    status = response.status_code
    secrets = tuple(secrets)  # may be a one-shot iterable
    body = _json_body(response)
    title = redact(str(body.get("title") or body.get("error") or response.reason_phrase), secrets)
    message = redact(str(body.get("message") or body.get("error_description") or ""), secrets)
    details = [
        {key: redact(str(detail.get(key) or ""), secrets) for key in ("parameter", "message")}
        for detail in body.get("details") or []
        if isinstance(detail, Mapping)
    ]
    query = dict(parse_qsl(response.request.url.query.decode())) if _has_request(response) else {}
    cls = _error_class(status, query)
    scopes = scopes_named(body) if status in SCOPE_STATUSES else []
    if advice is None and scopes:
        advice = missing_scope_advice(scopes)
    if advice is None and status == 403 and "organization" in query:
        advice = ADVICE_ORGANIZATION_SCOPE
    url = str(response.request.url) if _has_request(response) else ""
    return cls(
        status,
        title or None,
        message,
        details=details,
        advice=advice,
        url=url,
        missing_scopes=scopes,
    )


def scopes_named(body: Mapping[str, Any]) -> list[str]:
    """The scope names (``routing_forms:read``) an error body mentions, in order.

    Looks at a ``required_scopes`` list, the message and every detail, so both
    Calendly's wording and the simulator's are understood.
    """
    texts = [str(item) for item in body.get("required_scopes") or [] if isinstance(item, str)]
    texts.append(str(body.get("message") or ""))
    for detail in body.get("details") or []:
        if isinstance(detail, Mapping):
            texts.extend(str(detail.get(key) or "") for key in ("parameter", "message"))
    names = (match.group(1) for text in texts for match in _SCOPE_NAME.finditer(text))
    return list(dict.fromkeys(names))


def missing_scope_advice(scopes: Sequence[str]) -> str:
    """The fix for a token without ``scopes``: a token that has them."""
    names = " and ".join(scopes)
    return (
        f"create a token with scope {names} (a new personal access token), or run "
        "`calendly-elt auth login` with an OAuth app that has it enabled"
    )


def _error_class(status: int, query: Mapping[str, str]) -> type[CalendlyApiError]:
    if status == 400 and "page_token" in query:
        return CalendlyPageTokenExpiredError
    if status >= 500:
        return CalendlyServerError
    return _CLASS_BY_STATUS.get(status, CalendlyApiError)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
