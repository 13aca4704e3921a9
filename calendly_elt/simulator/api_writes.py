"""The simulated API's webhook subscription, no-show and data-compliance routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calendly_elt.simulator.api_base import HandlerBase
from calendly_elt.simulator.pagination import (
    invalid_argument,
)
from calendly_elt.simulator.params import (
    enum_param,
    parse_sort,
    required,
)
from calendly_elt.simulator.routing import Call
from calendly_elt.simulator.scopes import require_webhook_event_scopes
from calendly_elt.simulator.store import (
    Resource,
    SimulatorError,
    format_ts,
    uri_of,
    uuid_of,
)
from calendly_elt.simulator.webhook_plans import plan_refusal
from calendly_elt.simulator.wire import (
    SimResponse,
    json_response,
    not_found,
    permission_denied,
)

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


class WriteRoutes(HandlerBase):
    """Webhook subscriptions, no-show marks and data-compliance deletions."""

    def _list_webhooks(self, call: Call) -> SimResponse:
        request = call.request
        organization = required(request, "organization")
        scope = enum_param(request, "scope", ("organization", "user", "group"))
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
        sort_field, descending = parse_sort(
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
