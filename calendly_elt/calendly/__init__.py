"""The Calendly dlt source: one resource per raw table, declared in :data:`RESOURCES`.

``calendly_source`` yields the organization's small lists (read whole every
run) and the big two, ``scheduled_events`` and ``invitees``, read over
incremental start-time windows (``helpers/events.py``). Where things happen:

- HTTP, auth, retries, rate limiting: ``helpers/client.py``, ``helpers/auth.py``,
  ``helpers/rate_limit.py``; paging and page-token restarts: ``helpers/paging.py``;
- windows planned: ``helpers/windows.py``; the run's checkpoint:
  ``helpers/checkpoints.py``; fingerprints of loaded data: ``helpers/known_data.py``;
- which invitees are read: ``helpers/invitee_selection.py``, no-show rechecks:
  ``helpers/no_shows.py``; soft deletes: ``helpers/soft_deletes.py``;
- the small lists: ``helpers/dimensions.py``; row shaping: ``helpers/rows.py``;
- landed webhook deliveries merged: ``helpers/webhook_merge.py``.

After each load, call :func:`apply_pending_deletions` (the runner does) to
mark events and invitees that vanished from a re-read window as ``is_deleted``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import dlt
from dlt.sources import DltResource

from calendly_elt.calendly.config import CalendlySettings, build_client, resolve_settings
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.dimensions import (
    read_submissions,
    read_users,
    skip_if_refused,
    valid_pages,
)
from calendly_elt.calendly.helpers.events import EventPage, read_invitees, read_scheduled_events
from calendly_elt.calendly.helpers.reach import Reach
from calendly_elt.calendly.helpers.rows import Row
from calendly_elt.calendly.helpers.soft_deletes import apply_pending_deletions
from calendly_elt.calendly.helpers.webhook_merge import read_webhook_events
from calendly_elt.calendly.run_options import RunOptions, SourceInputs, WindowProgress
from calendly_elt.calendly.settings import COLUMN_HINTS, SOURCE_NAME

__all__ = [
    "DIMENSION_RESOURCES",
    "EVENT_RESOURCES",
    "RESOURCES",
    "WEBHOOK_RESOURCES",
    "ResourceSpec",
    "RunOptions",
    "WindowProgress",
    "apply_pending_deletions",
    "calendly_source",
]

Listing = Literal[
    "windows", "per_event", "owner", "organization", "subscriptions", "per_form", "landing"
]


@dataclass(frozen=True)
class ResourceSpec:
    """One raw table and how it is read.

    Attributes:
        name: The resource and its table.
        path: The API list it comes from.
        write_disposition: ``merge`` (history kept) or ``replace`` (the current list).
        listed: ``windows`` (start-time windows), ``per_event`` (one call per
            event), ``owner`` (``organization=`` or, in user scope, ``user=``),
            ``organization`` (always ``organization=``), ``subscriptions``
            (the webhook subscriptions of the scope), ``per_form`` (one list
            per routing form), ``landing`` (the webhook landing store, no API
            call); ``users`` is members plus former hosts.
        parent: The resource whose pages a transformer reads.
        primary_key: The merge key.
    """

    name: str
    path: str
    write_disposition: Literal["merge", "replace"]
    listed: Listing | Literal["members_and_hosts"]
    parent: str | None = None
    primary_key: str = "uri"


RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec("scheduled_events", "/scheduled_events", "merge", "windows"),
    ResourceSpec(
        "invitees", "/scheduled_events/{uuid}/invitees", "merge", "per_event", "scheduled_events"
    ),
    # replace: a removed member, group or subscription disappears
    ResourceSpec("organization_memberships", "/organization_memberships", "replace", "owner"),
    ResourceSpec("groups", "/groups", "replace", "organization"),
    # merge: old events keep their type's name, submissions their form
    ResourceSpec("event_types", "/event_types", "merge", "owner"),
    ResourceSpec("routing_forms", "/routing_forms", "merge", "organization"),
    ResourceSpec(
        "routing_form_submissions",
        "/routing_form_submissions",
        "merge",
        "per_form",
        "routing_forms",
    ),
    ResourceSpec("webhook_subscriptions", "/webhook_subscriptions", "replace", "subscriptions"),
    # last: it adds every host of the loaded events who is no longer a member
    ResourceSpec("users", "/organization_memberships", "merge", "members_and_hosts"),
    # no API call: the deliveries `webhooks serve` landed, and the state they carry
    # merged into invitees, scheduled_events, event_types, routing_form_submissions
    ResourceSpec("webhook_events", "(landing store)", "merge", "landing", primary_key="id"),
)
EVENT_RESOURCES = tuple(spec.name for spec in RESOURCES if spec.listed in ("windows", "per_event"))
WEBHOOK_RESOURCES = tuple(spec.name for spec in RESOURCES if spec.listed == "landing")
DIMENSION_RESOURCES = tuple(
    spec.name for spec in RESOURCES if spec.name not in (*EVENT_RESOURCES, *WEBHOOK_RESOURCES)
)


@dlt.source(name=SOURCE_NAME, section=SOURCE_NAME)
def calendly_source(
    settings: CalendlySettings | None = None,
    options: RunOptions | None = None,
    client: CalendlyClient | None = None,
    reach: Reach | None = None,
) -> list[DltResource]:
    """A Calendly organization (or, with ``scope="user"``, the token user's share of it).

    Args:
        settings: The configuration (see :class:`CalendlySettings`); default:
            resolved from dlt config/secrets (``[sources.calendly]``,
            ``SOURCES__CALENDLY__*``) and the ``CALENDLY_*`` environment names.
        options: What this run asks for (full refresh, ``--since``, checkpoints,
            clock, progress); default an ordinary incremental run.
        client: A ready client (shared across calls); default one built from
            ``settings``.
        reach: The run's reach (``GET /users/me`` once per run); default one
            resolved on first use.

    Returns:
        The resources of :data:`RESOURCES`, named after their tables.
    """
    resolved = settings or resolve_settings(require_credentials=client is None)
    run = options or RunOptions()
    inputs = SourceInputs(
        resolved, run, lambda: client or build_client(resolved, now=run.now), reach
    )
    built: dict[str, DltResource] = {}
    for spec in RESOURCES:
        built[spec.name] = _build(spec, inputs, built.get(spec.parent or ""))
    return list(built.values())


def _build(spec: ResourceSpec, inputs: SourceInputs, parent: DltResource | None) -> DltResource:
    hints: dict[str, Any] = {
        "name": spec.name,
        "write_disposition": spec.write_disposition,
        "primary_key": spec.primary_key,
        "columns": COLUMN_HINTS[spec.name],
    }
    if parent is None:
        return dlt.resource(_rows_of(spec, inputs), **hints)
    step = _invitees_of(inputs) if spec.listed == "per_event" else _submissions_of(inputs)
    return dlt.transformer(data_from=parent, **hints)(step)


def _rows_of(spec: ResourceSpec, inputs: SourceInputs) -> Callable[[], Iterator[Any]]:
    """The generator function of a resource that is not a transformer."""
    readers: dict[str, Callable[[], Iterator[Any]]] = {
        "windows": lambda: read_scheduled_events(inputs),
        "members_and_hosts": lambda: read_users(inputs),
        "landing": lambda: read_webhook_events(inputs),
    }
    read = readers.get(spec.listed) or _list_reader(spec, inputs)

    def rows() -> Iterator[Any]:
        yield from read()

    return rows


def _list_reader(spec: ResourceSpec, inputs: SourceInputs) -> Callable[[], Iterator[Any]]:
    """One list call filtered as ``spec.listed`` says; a 403/404 skips the resource."""
    queries: dict[str, Callable[[], dict[str, str]]] = {
        "owner": lambda: inputs.reach.owner_query(),
        "organization": lambda: inputs.reach.organization_query(),
        "subscriptions": lambda: inputs.reach.subscription_query(),
    }
    query = queries[spec.listed]  # asked at extraction: the client is built on first use
    return lambda: valid_pages(
        spec.name,
        skip_if_refused(spec.name, lambda: inputs.client.paginate(spec.path, query())),
    )


def _invitees_of(inputs: SourceInputs) -> Callable[[EventPage], Iterator[Any]]:
    def invitees(page: EventPage) -> Iterator[Any]:
        yield from read_invitees(inputs, page)

    return invitees


def _submissions_of(inputs: SourceInputs) -> Callable[[list[Row]], Iterator[Any]]:
    def routing_form_submissions(forms: list[Row]) -> Iterator[Any]:
        yield from read_submissions(inputs, forms)

    return routing_form_submissions
