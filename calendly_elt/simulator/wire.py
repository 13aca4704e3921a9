"""Requests and responses as the simulator sees them, and Calendly's error bodies.

Bodies are encoded deterministically (insertion order, fixed separators) so
the same store gives byte-identical responses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from calendly_elt.simulator.pagination import (  # noqa: F401
    ListRequest,
    PageTokens,
    Scan,
    SortKey,
    invalid_argument,
    paginate,
    parse_count,
    sorted_scan,
)
from calendly_elt.simulator.store import (
    API_BASE,
    SimulatorError,
)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
NO_PERMISSION = "You do not have permission to access this resource."


@dataclass(frozen=True)
class SimRequest:
    """An HTTP request as the simulator sees it.

    Attributes:
        method: upper-case HTTP method.
        path: URL path, e.g. ``/scheduled_events``.
        query: query parameters in order (repeats allowed).
        headers: header names in lower case.
        body: raw request body.
        base_url: scheme and host the request arrived on (for ``next_page`` links).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = API_BASE

    @classmethod
    def from_url(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> SimRequest:
        """Build a request from a full URL (``http://127.0.0.1:8765/users/me?x=1``)."""
        parts = urlsplit(url)
        return cls(
            method=method.upper(),
            path=parts.path or "/",
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            base_url=f"{parts.scheme}://{parts.netloc}",
        )

    def param(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        return next((value for key, value in self.query if key == name), None)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> dict[str, Any]:
        """The JSON object body (``{}`` when empty), or a 400 when it is not one."""
        if not self.body.strip():
            return {}
        try:
            body = json.loads(self.body)
        except ValueError:
            raise SimulatorError(
                400, "Invalid Argument", "The request body is not valid JSON."
            ) from None
        if not isinstance(body, dict):
            raise SimulatorError(400, "Invalid Argument", "The request body must be a JSON object.")
        return body


@dataclass
class SimResponse:
    """An HTTP response; ``drop`` means close the connection without answering."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False
    delay_seconds: float = 0.0

    def json(self) -> Any:
        """The decoded JSON body."""
        return json.loads(self.body)


def encode_json(body: Any) -> bytes:
    """Deterministic compact JSON (dict insertion order, fixed separators)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> SimResponse:
    """A JSON response with the usual content type."""
    return SimResponse(
        status, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}, encode_json(body)
    )


def error_response(error: SimulatorError) -> SimResponse:
    """The real error body ``{"title", "message", "details"}`` with its status."""
    return json_response(error.status, error.body())


def not_found() -> SimulatorError:
    """Calendly's 404."""
    return SimulatorError(
        404, "Resource Not Found", "The server could not find the requested resource."
    )


def permission_denied(message: str = NO_PERMISSION) -> SimulatorError:
    """Calendly's 403 with one of its real messages."""
    return SimulatorError(403, "Permission Denied", message)
