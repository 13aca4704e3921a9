"""The simulator's Calendly v2 routes: a pure function of a request and the store.

``ApiHandler.handle`` takes an authenticated ``SimRequest`` and returns a
``SimResponse`` (status, headers, JSON bytes) with the real paths, scope rules,
filters, status codes and error bodies. Authentication, rate limits and faults
wrap it in ``server.Simulator``; OAuth lives in ``auth``. Bodies are encoded
deterministically (insertion order, fixed separators) so the same store gives
byte-identical responses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from calendly_elt.simulator.pagination import (
    ListRequest,
    PageTokens,
    Scan,
    SortKey,
    invalid_argument,
    paginate,
    parse_count,
    sorted_scan,
)
from calendly_elt.simulator.scopes import require_route_scope, require_webhook_event_scopes
from calendly_elt.simulator.store import (
    API_BASE,
    Resource,
    SimulatorError,
    Store,
    format_ts,
    parse_ts,
    uri_of,
    uuid_of,
)
from calendly_elt.simulator.webhook_plans import plan_refusal

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
ADMIN_ROLES = ("owner", "admin")
WEBHOOK_EVENTS = (
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
    "event_type.created",
    "event_type.updated",
    "event_type.deleted",
)
NO_PERMISSION = "You do not have permission to access this resource."


# ---- request / response ----------------------------------------------------


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


# ---- routing -----------------------------------------------------------------


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


# ---- the handler -------------------------------------------------------------


class ApiHandler:
    """Serves the Calendly resource routes from a ``Store``.

    Args:
        store: the simulated organization.
        tokens: the page-token registry (carries the token time-to-live).
    """

    def __init__(self, store: Store, tokens: PageTokens) -> None:
        self.store = store
        self.tokens = tokens

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

    # ---- permissions -------------------------------------------------------

    @property
    def organization_uri(self) -> str:
        """URI of the simulated organization."""
        return str(self.store.organization["uri"])

    def _is_admin(self, user_uuid: str) -> bool:
        return self.store.roles.get(user_uuid) in ADMIN_ROLES

    def _is_member(self, user_uuid: str) -> bool:
        return user_uuid in self.store.roles

    def _require_admin_of(self, organization: str, call: Call) -> None:
        if organization != self.organization_uri or not self._is_admin(call.user_uuid):
            raise permission_denied()

    def _require_member_of(self, organization: str, call: Call) -> None:
        if organization != self.organization_uri or not self._is_member(call.user_uuid):
            raise permission_denied()

    def _hosts(self, event: Resource) -> list[str]:
        return [membership["user"] for membership in event.get("event_memberships", [])]

    def _require_event_access(self, event: Resource, call: Call) -> None:
        if not self._is_admin(call.user_uuid) and call.user_uri not in self._hosts(event):
            raise permission_denied("You are not allowed to view this event")

    # ---- helpers -----------------------------------------------------------

    def _one(self, table: Mapping[str, Resource], uuid: str) -> SimResponse:
        resource = table.get(uuid)
        if resource is None:
            raise not_found()
        return json_response(200, {"resource": resource})

    def _page(
        self,
        call: Call,
        rows: Iterable[Resource],
        sort_field: str,
        descending: bool,
    ) -> SimResponse:
        keyed = sorted(((_sort_value(row, sort_field), row["uri"]), row) for row in rows)
        if descending:
            keyed.reverse()
        return self._serve_page(call, sorted_scan(keyed, descending))

    def _serve_page(self, call: Call, scan: Scan) -> SimResponse:
        list_request = ListRequest(
            base_url=call.request.base_url,
            path=call.request.path.rstrip("/") or "/",
            query=call.request.query,
            count=parse_count(call.request.param("count")),
            page_token=call.request.param("page_token"),
        )
        page = paginate(scan, list_request, self.tokens)
        return json_response(200, page.body())

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
        organization = _required(call.request, "organization")
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
        rows = _filter_boolean(request, rows, "active")
        rows = _filter_boolean(request, rows, "admin_managed")
        sort_field, descending = _parse_sort(
            request.param("sort"), "name:asc", ("name", "created_at", "updated_at", "position")
        )
        return self._page(call, rows, sort_field, descending)

    def _get_event_type(self, call: Call) -> SimResponse:
        return self._one(self.store.event_types, call.params["uuid"])

    def _require_user_in_organization(self, user_uri: str) -> None:
        if uuid_of(user_uri) not in self.store.roles:
            raise permission_denied("This user is not in your organization")

    # ---- scheduled events --------------------------------------------------

    def _list_events(self, call: Call) -> SimResponse:
        request = call.request
        hosts = self._event_scope(call)
        status = _enum_param(request, "status", ("active", "canceled"))
        _, descending = _parse_sort(request.param("sort"), "start_time:asc", ("start_time",))
        minimum = _timestamp_param(request, "min_start_time")
        maximum = _timestamp_param(request, "max_start_time")
        email = request.param("invitee_email")

        def matches(event: Resource) -> bool:
            return (
                (status is None or event["status"] == status)
                and (hosts is None or not hosts.isdisjoint(self._hosts(event)))
                and (not email or self._has_invitee_email(event, email))
            )

        return self._serve_page(call, self._event_scan(minimum, maximum, matches, descending))

    def _event_scan(
        self,
        minimum: str | None,
        maximum: str | None,
        matches: Callable[[Resource], bool],
        descending: bool,
    ) -> Scan:
        """Walk the start-time index lazily: a page reads only the rows it returns."""

        def ascending_after(key: SortKey | None) -> Iterator[tuple[SortKey, Resource]]:
            low = minimum if key is None else max(minimum or "", key[0])
            for event in self.store.events_between(low or None, maximum):
                event_key = (event["start_time"], event["uri"])
                if (key is None or event_key > key) and matches(event):
                    yield event_key, event

        def descending_before(key: SortKey | None) -> Iterator[tuple[SortKey, Resource]]:
            high = maximum if key is None else min(maximum or "~", key[0] + "~")
            for event in reversed(list(self.store.events_between(minimum, high))):
                event_key = (event["start_time"], event["uri"])
                if (key is None or event_key < key) and matches(event):
                    yield event_key, event

        def scan(key: SortKey | None, backwards: bool) -> Iterator[tuple[SortKey, Resource]]:
            if backwards != descending:
                return descending_before(key)
            return ascending_after(key)

        return scan

    def _event_scope(self, call: Call) -> set[str] | None:
        """Host URIs the caller may list events of (None: the whole organization)."""
        request = call.request
        organization, user = request.param("organization"), request.param("user")
        group = request.param("group")
        if organization:
            self._require_admin_of(organization, call)
            if user:
                self._require_user_in_organization(user)
                return {user}
            return self._group_hosts(group, call) if group else None
        if user:
            return self._user_scope(user, call)
        if group:
            return self._group_hosts(group, call)
        raise invalid_argument("organization", "one of organization, user or group is required")

    def _user_scope(self, user: str, call: Call) -> set[str]:
        if user == call.user_uri:
            return {user}
        if self._is_admin(call.user_uuid) and uuid_of(user) in self.store.roles:
            raise permission_denied(
                "Please also specify organization when requesting events "
                "for a user within your organization."
            )
        raise permission_denied("You do not have permission")

    def _group_hosts(self, group: str, call: Call) -> set[str]:
        group_uuid = uuid_of(group)
        if group_uuid not in self.store.groups:
            raise not_found()
        members = self.store.group_members.get(group_uuid, [])
        if not self._is_admin(call.user_uuid) and call.user_uuid not in members:
            raise permission_denied()
        return {uri_of("users", member) for member in members}

    def _has_invitee_email(self, event: Resource, email: str) -> bool:
        wanted = email.lower()
        return any(
            invitee["email"].lower() == wanted
            for invitee in self.store.invitees_of(uuid_of(event["uri"]))
        )

    def _event(self, uuid: str) -> Resource:
        event = self.store.events.get(uuid)
        if event is None:
            raise not_found()
        return event

    def _get_event(self, call: Call) -> SimResponse:
        event = self._event(call.params["uuid"])
        self._require_event_access(event, call)
        return json_response(200, {"resource": event})

    def _list_invitees(self, call: Call) -> SimResponse:
        event = self._event(call.params["uuid"])
        self._require_event_access(event, call)
        request = call.request
        status = _enum_param(request, "status", ("active", "canceled"))
        email = request.param("email")
        sort_field, descending = _parse_sort(
            request.param("sort"), "created_at:asc", ("created_at",)
        )
        rows = [
            invitee
            for invitee in self.store.invitees_of(call.params["uuid"])
            if (status is None or invitee["status"] == status)
            and (not email or invitee["email"].lower() == email.lower())
        ]
        return self._page(call, rows, sort_field, descending)

    def _get_invitee(self, call: Call) -> SimResponse:
        event = self._event(call.params["event_uuid"])
        invitee = self.store.invitees.get(call.params["uuid"])
        if invitee is None or uuid_of(invitee["event"]) != call.params["event_uuid"]:
            raise not_found()
        self._require_event_access(event, call)
        return json_response(200, {"resource": invitee})

    def _cancel_event(self, call: Call) -> SimResponse:
        from calendly_elt.simulator import mutations

        event = self._event(call.params["uuid"])
        if not self._is_admin(call.user_uuid) and call.user_uri not in self._hosts(event):
            raise permission_denied("You are not allowed to cancel this event")
        if event["status"] == "canceled":
            raise permission_denied("Event is already canceled")
        if parse_ts(event["start_time"]) <= self.store.clock.now():
            raise permission_denied("Event in the past")
        reason = call.request.json().get("reason")
        cancellation = mutations.cancel_event(
            self.store,
            call.params["uuid"],
            reason=reason if isinstance(reason, str) else "",
            canceled_by_user_uuid=call.user_uuid,
        )
        return json_response(201, {"resource": cancellation})

    # ---- routing forms -----------------------------------------------------

    def _list_routing_forms(self, call: Call) -> SimResponse:
        organization = _required(call.request, "organization")
        self._require_member_of(organization, call)
        rows = [
            form
            for form in self.store.routing_forms.values()
            if form.get("organization") == organization
        ]
        sort_field, descending = _parse_sort(
            call.request.param("sort"), "created_at:asc", ("created_at",)
        )
        return self._page(call, rows, sort_field, descending)

    def _get_routing_form(self, call: Call) -> SimResponse:
        return self._one(self.store.routing_forms, call.params["uuid"])

    def _list_submissions(self, call: Call) -> SimResponse:
        form = _required(call.request, "form")
        if uuid_of(form) not in self.store.routing_forms:
            raise not_found()
        self._require_member_of(self.organization_uri, call)
        rows = [
            submission
            for submission in self.store.routing_form_submissions.values()
            if submission.get("routing_form") == form
        ]
        sort_field, descending = _parse_sort(
            call.request.param("sort"), "created_at:asc", ("created_at",)
        )
        return self._page(call, rows, sort_field, descending)

    def _get_submission(self, call: Call) -> SimResponse:
        return self._one(self.store.routing_form_submissions, call.params["uuid"])

    # ---- webhook subscriptions ---------------------------------------------

    def _list_webhooks(self, call: Call) -> SimResponse:
        request = call.request
        organization = _required(request, "organization")
        scope = _enum_param(request, "scope", ("organization", "user", "group"))
        if scope is None:
            raise invalid_argument("scope", "is required")
        user = request.param("user")
        if scope == "user" and not user:
            raise invalid_argument("user", "is required when scope is user")
        self._require_member_of(organization, call)
        if scope != "user" and not self._is_admin(call.user_uuid):
            raise permission_denied()
        if user and user != call.user_uri and not self._is_admin(call.user_uuid):
            raise permission_denied("Unauthorized")
        rows = [
            hook
            for hook in self.store.webhook_subscriptions.values()
            if hook["organization"] == organization
            and hook["scope"] == scope
            and (not user or hook.get("user") == user)
        ]
        sort_field, descending = _parse_sort(
            request.param("sort"), "created_at:asc", ("created_at",)
        )
        return self._page(call, rows, sort_field, descending)

    def _create_webhook(self, call: Call) -> SimResponse:
        body = call.request.json()
        request = _WebhookRequest.parse(body)
        require_webhook_event_scopes(call.scopes, request.events)
        self._require_member_of(request.organization, call)
        if request.scope != "user" and not self._is_admin(call.user_uuid):
            raise permission_denied()
        if request.user and request.user != call.user_uri and not self._is_admin(call.user_uuid):
            raise permission_denied("You do not have permission")
        refusal = plan_refusal(
            self.store.organization.get("plan"), request.events, self.store.clock.now()
        )
        if refusal:
            raise permission_denied(refusal)
        if self._webhook_exists(request):
            raise SimulatorError(409, "Already Exists", "Hook with this url already exists")
        hook = self._new_webhook(request, call)
        return json_response(201, {"resource": hook})

    def _webhook_exists(self, request: _WebhookRequest) -> bool:
        return any(
            hook["callback_url"] == request.url
            and hook["organization"] == request.organization
            and hook["scope"] == request.scope
            for hook in self.store.webhook_subscriptions.values()
        )

    def _new_webhook(self, request: _WebhookRequest, call: Call) -> Resource:
        uuid = self.store.new_uuid()
        now = format_ts(self.store.clock.now())
        hook: Resource = {
            "uri": uri_of("webhook_subscriptions", uuid),
            "callback_url": request.url,
            "created_at": now,
            "updated_at": now,
            "retry_started_at": None,
            "state": "active",
            "events": list(request.events),
            "scope": request.scope,
            "organization": request.organization,
            "user": request.user if request.scope == "user" else None,
            "group": request.group if request.scope == "group" else None,
            "creator": call.user_uri,
        }
        self.store.webhook_subscriptions[uuid] = hook
        self.store.webhook_signing_keys[uuid] = request.signing_key or self.store.new_uuid()
        return hook

    def _get_webhook(self, call: Call) -> SimResponse:
        hook = self._webhook(call)
        return json_response(200, {"resource": hook})

    def _delete_webhook(self, call: Call) -> SimResponse:
        self._webhook(call)
        uuid = call.params["uuid"]
        del self.store.webhook_subscriptions[uuid]
        self.store.webhook_signing_keys.pop(uuid, None)
        return SimResponse(204)

    def _webhook(self, call: Call) -> Resource:
        hook = self.store.webhook_subscriptions.get(call.params["uuid"])
        if hook is None:
            raise not_found()
        if not self._is_admin(call.user_uuid) and hook.get("creator") != call.user_uri:
            raise permission_denied()
        return hook

    # ---- no-shows, deletion ------------------------------------------------

    def _create_no_show(self, call: Call) -> SimResponse:
        from calendly_elt.simulator import mutations

        invitee_uri = call.request.json().get("invitee")
        if not isinstance(invitee_uri, str) or not invitee_uri:
            raise invalid_argument("invitee", "is required")
        invitee = self.store.invitees.get(uuid_of(invitee_uri))
        if invitee is None:
            raise not_found()
        self._require_event_access(self._event(uuid_of(invitee["event"])), call)
        no_show = mutations.mark_no_show(self.store, uuid_of(invitee_uri))
        return json_response(201, {"resource": no_show})

    def _no_show(self, call: Call) -> Resource:
        no_show = self.store.no_shows.get(call.params["uuid"])
        if no_show is None:
            raise not_found()
        invitee = self.store.invitees.get(uuid_of(no_show["invitee"]))
        if invitee is not None:
            self._require_event_access(self._event(uuid_of(invitee["event"])), call)
        return no_show

    def _get_no_show(self, call: Call) -> SimResponse:
        return json_response(200, {"resource": self._no_show(call)})

    def _delete_no_show(self, call: Call) -> SimResponse:
        from calendly_elt.simulator import mutations

        self._no_show(call)
        mutations.unmark_no_show(self.store, call.params["uuid"])
        return SimResponse(204)

    def _delete_invitee_data(self, call: Call) -> SimResponse:
        from calendly_elt.simulator import mutations

        if not self._is_admin(call.user_uuid):
            raise permission_denied(
                "You must be an admin/owner with the data requests permission enabled to use "
                "this resource. Contact Calendly support and ask them to grant you data "
                "requests permission."
            )
        emails = call.request.json().get("emails")
        if (
            not isinstance(emails, list)
            or not emails
            or not all(isinstance(email, str) for email in emails)
        ):
            raise invalid_argument("emails", "must be a non-empty list of email addresses")
        mutations.delete_invitee_data(self.store, emails)
        return json_response(202, {})


@dataclass(frozen=True)
class _WebhookRequest:
    """A validated ``POST /webhook_subscriptions`` body."""

    url: str
    events: tuple[str, ...]
    organization: str
    scope: str
    user: str | None
    group: str | None
    signing_key: str | None

    @classmethod
    def parse(cls, body: Any) -> _WebhookRequest:
        if not isinstance(body, dict):
            raise invalid_argument("body", "must be a JSON object")
        for name in ("url", "organization", "scope"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise invalid_argument(name, "is required")
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise invalid_argument("events", "must be a non-empty list")
        unknown = [event for event in events if event not in WEBHOOK_EVENTS]
        if unknown:
            raise invalid_argument("events", f"contains unsupported events: {unknown}")
        scope = body["scope"]
        if scope not in ("organization", "user", "group"):
            raise invalid_argument("scope", "must be one of organization, user, group")
        if scope in ("user", "group") and not body.get(scope):
            raise invalid_argument(scope, f"is required when scope is {scope}")
        return cls(
            url=body["url"],
            events=tuple(dict.fromkeys(events)),
            organization=body["organization"],
            scope=scope,
            user=body.get("user"),
            group=body.get("group"),
            signing_key=body.get("signing_key"),
        )


# ---- parameter parsing --------------------------------------------------------


def _required(request: SimRequest, name: str) -> str:
    value = request.param(name)
    if not value:
        raise invalid_argument(name, "is required")
    return value


def _enum_param(request: SimRequest, name: str, allowed: Sequence[str]) -> str | None:
    value = request.param(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise invalid_argument(name, f"must be one of {', '.join(allowed)}")
    return value


def _timestamp_param(request: SimRequest, name: str) -> str | None:
    """A time filter normalised to the stored timestamp format (or a 400)."""
    value = request.param(name)
    if not value:
        return None
    try:
        return format_ts(parse_ts(value))
    except ValueError:
        raise invalid_argument(
            name, "must be a UTC timestamp like 2020-01-02T03:04:05.678123Z"
        ) from None


def _parse_sort(raw: str | None, default: str, fields: Sequence[str]) -> tuple[str, bool]:
    """``field:asc|desc`` -> (field, descending); the direction defaults to asc."""
    field_name, _, direction = (raw or default).partition(":")
    direction = direction or "asc"
    if field_name not in fields or direction not in ("asc", "desc"):
        raise invalid_argument(
            "sort", f"must be one of {', '.join(f + ':asc|desc' for f in fields)}"
        )
    return field_name, direction == "desc"


def _filter_boolean(request: SimRequest, rows: Iterable[Resource], name: str) -> list[Resource]:
    raw = request.param(name)
    if raw is None or raw == "":
        return list(rows)
    if raw not in ("true", "false"):
        raise invalid_argument(name, "must be true or false")
    wanted = raw == "true"
    return [row for row in rows if bool(row.get(name)) == wanted]


def _sort_value(row: Resource, field_name: str) -> Any:
    value = row.get(field_name)
    if field_name == "name" and isinstance(value, str):
        return value.lower()
    return "" if value is None else value
