"""Paging: every Calendly list call goes through here.

Calendly's lists return ``{"collection": [...], "pagination": {"next_page": URL}}``
where ``next_page`` is a full URL carrying every query parameter and null at
the end. :func:`paginate` follows it page by page; :func:`read_all` reads a
whole list and, when a page token expires half way (a 400 on a ``next_page``
URL), starts the list over: the one page-token restart loop of the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from calendly_elt.calendly.helpers.errors import (
    CalendlyPageTokenExpiredError,
    CalendlyPagingLoopError,
)
from calendly_elt.errors import CalendlyEltError

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
# An expired page token (400) restarts the list; give up after this many restarts.
MAX_LIST_RESTARTS = 3

Getter = Callable[..., dict[str, Any]]
Row = dict[str, Any]


class PageTokensExpiredError(CalendlyEltError):
    """A list's page tokens kept expiring however often it was restarted."""


def paginate(
    get: Getter, path: str, params: Mapping[str, Any] | None = None
) -> Iterator[list[Row]]:
    """Yield each page's ``collection``, following ``pagination.next_page`` to the end.

    Args:
        get: The client's ``get(path_or_url, params=None)``.
        path: The list endpoint, e.g. ``"/scheduled_events"``.
        params: Query parameters of the first page; ``count`` defaults to 100.

    Yields:
        The rows of one page.

    Raises:
        CalendlyPagingLoopError: Calendly returned the same ``next_page`` twice.
    """
    body = get(path, {"count": PAGE_SIZE, **(params or {})})
    seen: set[str] = set()
    while True:
        yield list(body.get("collection") or [])
        next_page = (body.get("pagination") or {}).get("next_page")
        if not next_page:
            return
        if next_page in seen:
            raise CalendlyPagingLoopError(path, next_page)
        seen.add(next_page)
        body = get(next_page)


def read_all(
    get: Getter, path: str, params: Mapping[str, Any] | None = None, *, what: str
) -> list[Row]:
    """Every row of a list, restarted from its first page when a page token expires.

    Args:
        get: The client's ``get``.
        path: The list endpoint.
        params: Query parameters of the first page.
        what: What is being read, for the log and the error ("events of [...)").

    Returns:
        The rows of every page, in order.

    Raises:
        PageTokensExpiredError: The tokens expired on ``MAX_LIST_RESTARTS + 1`` tries.
    """
    for attempt in range(MAX_LIST_RESTARTS + 1):
        try:
            return [row for page in paginate(get, path, params) for row in page]
        except CalendlyPageTokenExpiredError:
            logger.warning("page token expired reading %s; restarting it (%d)", what, attempt)
    raise PageTokensExpiredError(
        f"page tokens kept expiring while reading {what}; "
        "the run stopped at its last checkpoint - rerun to resume"
    )
