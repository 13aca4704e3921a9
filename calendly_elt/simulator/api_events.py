"""The simulated API's scheduled events and invitees routes (listing, cancellation)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from calendly_elt.simulator.api_base import HandlerBase
from calendly_elt.simulator.pagination import (
    Scan,
    SortKey,
    invalid_argument,
)
from calendly_elt.simulator.params import (
    enum_param,
    parse_sort,
    timestamp_param,
)
from calendly_elt.simulator.routing import Call
from calendly_elt.simulator.store import (
    Resource,
    parse_ts,
    uri_of,
    uuid_of,
)
from calendly_elt.simulator.wire import (
    SimResponse,
    json_response,
    not_found,
    permission_denied,
)


class EventRoutes(HandlerBase):
    """``/scheduled_events`` and their invitees."""

    def _list_events(self, call: Call) -> SimResponse:
        request = call.request
        hosts = self._event_scope(call)
        status = enum_param(request, "status", ("active", "canceled"))
        _, descending = parse_sort(request.param("sort"), "start_time:asc", ("start_time",))
        minimum = timestamp_param(request, "min_start_time")
        maximum = timestamp_param(request, "max_start_time")
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

    def _get_event(self, call: Call) -> SimResponse:
        event = self._event(call.params["uuid"])
        self._require_event_access(event, call)
        return json_response(200, {"resource": event})

    def _list_invitees(self, call: Call) -> SimResponse:
        event = self._event(call.params["uuid"])
        self._require_event_access(event, call)
        request = call.request
        status = enum_param(request, "status", ("active", "canceled"))
        email = request.param("email")
        sort_field, descending = parse_sort(
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
