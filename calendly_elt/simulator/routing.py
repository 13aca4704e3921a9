"""The routes of the simulated API: method and path template, bound to a handler name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from calendly_elt.simulator.store import (
    uri_of,
)
from calendly_elt.simulator.wire import SimRequest


@dataclass(frozen=True)
class Route:
    """A method and path template (``/scheduled_events/{uuid}``) bound to a handler name."""

    method: str
    template: str
    handler: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The template as an anchored regex with named groups."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        return re.compile(f"^{regex}/?$")

    @property
    def label(self) -> str:
        """``"GET /scheduled_events/{uuid}"``: the key of request statistics."""
        return f"{self.method} {self.template}"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/users/me", "get_me"),
    Route("GET", "/users/{uuid}", "get_user"),
    Route("GET", "/organizations/{uuid}", "get_organization"),
    Route("GET", "/organization_memberships", "list_memberships"),
    Route("GET", "/organization_memberships/{uuid}", "get_membership"),
    Route("GET", "/groups", "list_groups"),
    Route("GET", "/groups/{uuid}", "get_group"),
    Route("GET", "/event_types", "list_event_types"),
    Route("GET", "/event_types/{uuid}", "get_event_type"),
    Route("GET", "/scheduled_events", "list_events"),
    Route("GET", "/scheduled_events/{uuid}", "get_event"),
    Route("GET", "/scheduled_events/{uuid}/invitees", "list_invitees"),
    Route("GET", "/scheduled_events/{event_uuid}/invitees/{uuid}", "get_invitee"),
    Route("POST", "/scheduled_events/{uuid}/cancellation", "cancel_event"),
    Route("GET", "/routing_forms", "list_routing_forms"),
    Route("GET", "/routing_forms/{uuid}", "get_routing_form"),
    Route("GET", "/routing_form_submissions", "list_submissions"),
    Route("GET", "/routing_form_submissions/{uuid}", "get_submission"),
    Route("GET", "/webhook_subscriptions", "list_webhooks"),
    Route("POST", "/webhook_subscriptions", "create_webhook"),
    Route("GET", "/webhook_subscriptions/{uuid}", "get_webhook"),
    Route("DELETE", "/webhook_subscriptions/{uuid}", "delete_webhook"),
    Route("POST", "/invitee_no_shows", "create_no_show"),
    Route("GET", "/invitee_no_shows/{uuid}", "get_no_show"),
    Route("DELETE", "/invitee_no_shows/{uuid}", "delete_no_show"),
    Route("POST", "/data_compliance/deletion/invitees", "delete_invitee_data"),
)
_COMPILED = tuple((route, route.pattern) for route in ROUTES)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``method path`` and its path parameters, if any."""
    for route, pattern in _COMPILED:
        if route.method != method:
            continue
        found = pattern.match(path)
        if found:
            return route, found.groupdict()
    return None


@dataclass(frozen=True)
class Call:
    """One routed, authenticated request."""

    request: SimRequest
    user_uuid: str
    params: dict[str, str]
    scopes: frozenset[str] | None = None  # the token's scopes; None: a legacy full-access token

    @property
    def user_uri(self) -> str:
        """Canonical URI of the caller."""
        return uri_of("users", self.user_uuid)
