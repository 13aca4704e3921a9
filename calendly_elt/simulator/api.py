"""The simulator's Calendly v2 routes: a pure function of a request and the store.

``ApiHandler.handle`` takes an authenticated ``SimRequest`` and returns a
``SimResponse`` (status, headers, JSON bytes) with the real paths, scope rules,
filters, status codes and error bodies. Authentication, rate limits and faults
wrap it in ``server.Simulator``; OAuth lives in ``auth``. Bodies are encoded
deterministically (insertion order, fixed separators) so the same store gives
byte-identical responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from calendly_elt.simulator.api_base import ADMIN_ROLES, HandlerBase
from calendly_elt.simulator.api_events import EventRoutes
from calendly_elt.simulator.api_writes import WEBHOOK_EVENTS, WriteRoutes
from calendly_elt.simulator.pagination import (
    invalid_argument,
)
from calendly_elt.simulator.params import (
    filter_boolean,
    parse_sort,
    required,
)
from calendly_elt.simulator.routing import ROUTES, Call, Route, match_route
from calendly_elt.simulator.scopes import require_route_scope
from calendly_elt.simulator.store import (
    Resource,
    SimulatorError,
    uuid_of,
)
from calendly_elt.simulator.wire import (
    JSON_CONTENT_TYPE,
    NO_PERMISSION,
    SimRequest,
    SimResponse,
    encode_json,
    error_response,
    json_response,
    not_found,
    permission_denied,
)

__all__ = [
    "ADMIN_ROLES",
    "JSON_CONTENT_TYPE",
    "NO_PERMISSION",
    "ROUTES",
    "WEBHOOK_EVENTS",
    "ApiHandler",
    "Call",
    "HandlerBase",
    "Route",
    "SimRequest",
    "SimResponse",
    "encode_json",
    "error_response",
    "json_response",
    "match_route",
    "not_found",
    "permission_denied",
]


class ApiHandler(EventRoutes, WriteRoutes):
    """Serves the Calendly resource routes from a ``Store``.

    Args:
        store: the simulated organization.
        tokens: the page-token registry (carries the token time-to-live).
    """

    def handle(
        self, request: SimRequest, user_uuid: str, scopes: frozenset[str] | None = None
    ) -> SimResponse:
        """Answer an authenticated request (404 for an unknown path, 403 for a missing scope).

        Args:
            request: The request.
            user_uuid: The caller.
            scopes: The token's scopes; None for a legacy token with full access.
        """
        matched = match_route(request.method, request.path)
        try:
            if matched is None:
                raise not_found()
            route, params = matched
            require_route_scope(scopes, route.method, route.template)
            method: Callable[[Call], SimResponse] = getattr(self, f"_{route.handler}")
            with self.store.lock:
                return method(Call(request, user_uuid, params, scopes))
        except SimulatorError as error:
            return error_response(error)

    # ---- users and organization ---------------------------------------------

    def _get_me(self, call: Call) -> SimResponse:
        return self._one(self.store.users, call.user_uuid)

    def _get_user(self, call: Call) -> SimResponse:
        uuid = call.params["uuid"]
        return self._one(self.store.users, call.user_uuid if uuid == "me" else uuid)

    def _get_organization(self, call: Call) -> SimResponse:
        if uuid_of(self.organization_uri) != call.params["uuid"]:
            raise not_found()
        self._require_member_of(self.organization_uri, call)
        return json_response(200, {"resource": self.store.organization})

    def _list_memberships(self, call: Call) -> SimResponse:
        organization, user = call.request.param("organization"), call.request.param("user")
        if not organization and not user:
            raise invalid_argument("organization", "organization or user is required")
        if organization:
            self._require_member_of(organization, call)
        rows = list(self.store.organization_memberships.values())
        if user:
            rows = [row for row in rows if row["user"]["uri"] == user]
            if not organization and user != call.user_uri:
                self._require_member_of(self.organization_uri, call)
        email = call.request.param("email")
        if email:
            rows = [row for row in rows if row["user"]["email"].lower() == email.lower()]
        return self._page(call, rows, "created_at", False)

    def _get_membership(self, call: Call) -> SimResponse:
        self._require_member_of(self.organization_uri, call)
        return self._one(self.store.organization_memberships, call.params["uuid"])

    def _list_groups(self, call: Call) -> SimResponse:
        organization = required(call.request, "organization")
        self._require_member_of(organization, call)
        return self._page(call, self.store.groups.values(), "created_at", False)

    def _get_group(self, call: Call) -> SimResponse:
        return self._one(self.store.groups, call.params["uuid"])

    # ---- event types -------------------------------------------------------

    def _list_event_types(self, call: Call) -> SimResponse:
        request = call.request
        organization, user = request.param("organization"), request.param("user")
        if not organization and not user:
            raise invalid_argument("organization", "organization or user is required")
        if organization:
            self._require_member_of(organization, call)
        rows: Iterable[Resource] = self.store.event_types.values()
        if user:
            self._require_user_in_organization(user)
            rows = [row for row in rows if row.get("profile", {}).get("owner") == user]
        rows = filter_boolean(request, rows, "active")
        rows = filter_boolean(request, rows, "admin_managed")
        sort_field, descending = parse_sort(
            request.param("sort"), "name:asc", ("name", "created_at", "updated_at", "position")
        )
        return self._page(call, rows, sort_field, descending)

    def _get_event_type(self, call: Call) -> SimResponse:
        return self._one(self.store.event_types, call.params["uuid"])

    # ---- scheduled events --------------------------------------------------

    def _list_routing_forms(self, call: Call) -> SimResponse:
        organization = required(call.request, "organization")
        self._require_member_of(organization, call)
        rows = [
            form
            for form in self.store.routing_forms.values()
            if form.get("organization") == organization
        ]
        sort_field, descending = parse_sort(
            call.request.param("sort"), "created_at:asc", ("created_at",)
        )
        return self._page(call, rows, sort_field, descending)

    def _get_routing_form(self, call: Call) -> SimResponse:
        return self._one(self.store.routing_forms, call.params["uuid"])

    def _list_submissions(self, call: Call) -> SimResponse:
        form = required(call.request, "form")
        if uuid_of(form) not in self.store.routing_forms:
            raise not_found()
        self._require_member_of(self.organization_uri, call)
        rows = [
            submission
            for submission in self.store.routing_form_submissions.values()
            if submission.get("routing_form") == form
        ]
        sort_field, descending = parse_sort(
            call.request.param("sort"), "created_at:asc", ("created_at",)
        )
        return self._page(call, rows, sort_field, descending)

    def _get_submission(self, call: Call) -> SimResponse:
        return self._one(self.store.routing_form_submissions, call.params["uuid"])

    # ---- webhook subscriptions ---------------------------------------------
