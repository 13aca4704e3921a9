"""The baseline: dlt's generic ``rest_api`` source configured for Calendly, as its docs show.

One client (bearer token, ``json_link`` paging on ``pagination.next_page``,
records under ``collection``), ``scheduled_events`` as ``events`` with an
incremental on ``start_time`` passed as ``min_start_time``, and ``invitees``
as a dependent resource of ``events`` (one call per event, the path built from
the event's uuid), plus the small lists our pipeline also reads. Everything
else is left at dlt's defaults (no parallelism, one request in flight).
"""

from __future__ import annotations

from typing import Any

from dlt.sources.rest_api import rest_api_source

JSON_LINK = {"type": "json_link", "next_url_path": "pagination.next_page"}


def _with_uuid(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its uuid (the last part of its URI), for the invitees' path."""
    event["uuid"] = event["uri"].rsplit("/", 1)[1]
    return event


SMALL_LISTS = ("event_types", "organization_memberships", "groups", "routing_forms")


def _events_and_invitees(organization: str, since: str) -> list[dict[str, Any]]:
    """``events`` with its incremental on ``start_time``; ``invitees`` depending on it."""
    incremental = {"type": "incremental", "cursor_path": "start_time", "initial_value": since}
    events_endpoint = {
        "path": "scheduled_events",
        "params": {"organization": organization, "min_start_time": incremental},
    }
    return [
        {"name": "events", "endpoint": events_endpoint, "processing_steps": [{"map": _with_uuid}]},
        {
            "name": "invitees",
            "endpoint": {"path": "scheduled_events/{resources.events.uuid}/invitees"},
        },
    ]


def baseline_config(base_url: str, token: str, organization: str, since: str) -> dict[str, Any]:
    """The ``RESTAPIConfig`` of the baseline.

    Args:
        base_url: The API root (the simulator).
        token: A personal access token of an organization admin.
        organization: The organization URI (``GET /users/me`` tells it).
        since: The incremental's initial value (ISO 8601 UTC), the backfill start.

    Returns:
        The configuration dict ``rest_api_source`` takes.
    """
    small_lists = [
        {"name": name, "endpoint": {"path": name, "params": {"organization": organization}}}
        for name in SMALL_LISTS
    ]
    endpoint = {"data_selector": "collection", "paginator": JSON_LINK, "params": {"count": 100}}
    return {
        "client": {"base_url": base_url, "auth": {"type": "bearer", "token": token}},
        "resource_defaults": {
            "primary_key": "uri",
            "write_disposition": "merge",
            "endpoint": endpoint,
        },
        "resources": _events_and_invitees(organization, since) + small_lists,
    }


def baseline_source(base_url: str, token: str, organization: str, since: str) -> Any:
    """The ``rest_api`` source of :func:`baseline_config`."""
    return rest_api_source(baseline_config(base_url, token, organization, since))  # type: ignore[arg-type]
