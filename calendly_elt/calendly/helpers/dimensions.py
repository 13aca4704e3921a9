"""The small lists read whole every run: memberships, groups, event types, forms, ...

Most are one list call filtered by the run's owner (``reach.py``); a 403 or
404 (the token's rights or the plan) skips the resource with a warning. Two
need more: ``routing_form_submissions`` (per form, newest first, stopping at
old, loaded pages) and ``users`` (members, plus the hosts of loaded events
who are no longer members).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import dlt

from calendly_elt.calendly.helpers.errors import CalendlyForbiddenError, CalendlyNotFoundError
from calendly_elt.calendly.helpers.loaded import read_loaded_hosts, read_loaded_uris
from calendly_elt.calendly.helpers.quarantine import as_quarantine, is_quarantine_row, split_valid
from calendly_elt.calendly.helpers.rows import Row, in_pages, to_utc_datetimes, uuid_of
from calendly_elt.calendly.run_options import SourceInputs

logger = logging.getLogger(__name__)

Pages = Iterable[list[Row]]


def skip_if_refused(name: str, pages: Callable[[], Pages]) -> Iterator[list[Row]]:
    """Yield the pages of ``pages()``, timestamps converted; a 403/404 skips the resource."""
    try:
        for page in pages():
            yield [to_utc_datetimes(row) for row in page]
    except (CalendlyForbiddenError, CalendlyNotFoundError) as error:
        logger.warning("skipping %s: %s", name, error)


def valid_pages(table: str, pages: Iterable[list[Row]]) -> Iterator[Any]:
    """The pages' rows that keep ``table``'s contract; the others, marked for quarantine."""
    for page in pages:
        valid, bad = split_valid(table, page)
        yield valid
        if bad:
            yield as_quarantine(bad)


def read_submissions(inputs: SourceInputs, forms: list[Row]) -> Iterator[Any]:
    """The ``routing_form_submissions`` transformer: the submissions of a page of forms."""
    loaded = read_loaded_uris(dlt.current.pipeline(), "routing_form_submissions")
    rows: list[Row] = []
    for form in forms:
        if not is_quarantine_row(form):
            rows.extend(_submissions_of(inputs, form["uri"], loaded))
    yield from valid_pages("routing_form_submissions", [rows])


def _submissions_of(inputs: SourceInputs, form_uri: str, loaded: set[str]) -> list[Row]:
    """A form's submissions, newest first, down to the first page of old, loaded ones.

    A submission changes only while its booking happens (``submitter``), so
    paging stops at a page whose rows are all loaded already and older than
    ``lookback_days``; a full refresh reads everything.
    """
    stop_before = None if inputs.options.full_refresh else _submissions_horizon(inputs)
    query = {"form": form_uri, "sort": "created_at:desc"}
    rows: list[Row] = []
    for page in skip_if_refused(
        "routing_form_submissions",
        lambda: inputs.client.paginate("/routing_form_submissions", query),
    ):
        rows.extend(page)
        if stop_before and page and all(_old_and_loaded(row, stop_before, loaded) for row in page):
            break
    return rows


def _submissions_horizon(inputs: SourceInputs) -> datetime:
    horizon = inputs.options.now() - timedelta(days=inputs.settings.lookback_days)
    since = inputs.options.since
    return min(horizon, since) if since else horizon


def _old_and_loaded(row: Row, stop_before: datetime, loaded: set[str]) -> bool:
    created = row.get("created_at")
    return isinstance(created, datetime) and created < stop_before and row["uri"] in loaded


def read_users(inputs: SourceInputs) -> Iterator[list[Row]]:
    """The ``users`` resource: members, plus hosts of loaded events who are not (people who left).

    Hosts come from the loaded events: the runner loads events before it reads
    the dimensions, so every host of the run is loaded by then.
    """
    members = _member_users(inputs)
    yield from valid_pages("users", in_pages(members))
    pipeline = dlt.current.pipeline()
    known = {user.get("uri") for user in members} | read_loaded_uris(pipeline, "users")
    others = sorted(read_loaded_hosts(pipeline) - known)
    fetched = inputs.client.map_concurrently(lambda uri: _fetch_user(inputs, uri), others)
    former = [to_utc_datetimes(user) for _, user in fetched if user is not None]
    yield from valid_pages("users", in_pages(former))


def _member_users(inputs: SourceInputs) -> list[Row]:
    """The users embedded in memberships; a member's current organization is the membership's."""
    users: list[Row] = []
    for page in skip_if_refused(
        "users",
        lambda: inputs.client.paginate("/organization_memberships", inputs.reach.owner_query()),
    ):
        for membership in page:
            if not isinstance(membership.get("user"), dict):
                continue  # the membership itself is quarantined by organization_memberships
            user = dict(membership["user"])
            user.setdefault("current_organization", membership.get("organization"))
            users.append(user)
    return users


def _fetch_user(inputs: SourceInputs, uri: str) -> Row | None:
    try:
        return inputs.client.get(f"/users/{uuid_of(uri)}")["resource"]  # type: ignore[no-any-return]
    except (CalendlyForbiddenError, CalendlyNotFoundError) as error:
        logger.warning("skipping user %s: %s", uuid_of(uri), error)
        return None
