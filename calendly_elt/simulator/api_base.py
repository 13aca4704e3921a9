"""The base of the simulated API's route handlers: permissions and paging over the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from calendly_elt.simulator.pagination import (
    ListRequest,
    PageTokens,
    Scan,
    paginate,
    parse_count,
    sorted_scan,
)
from calendly_elt.simulator.params import (
    sort_value,
)
from calendly_elt.simulator.routing import Call
from calendly_elt.simulator.store import (
    Resource,
    Store,
    uuid_of,
)
from calendly_elt.simulator.wire import (
    SimResponse,
    json_response,
    not_found,
    permission_denied,
)

ADMIN_ROLES = ("owner", "admin")


class HandlerBase:
    """What every route family shares: the store, permissions, paging.

    Args:
        store: the simulated organization.
        tokens: the page-token registry (carries the token time-to-live).
    """

    def __init__(self, store: Store, tokens: PageTokens) -> None:
        self.store = store
        self.tokens = tokens

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
        keyed = sorted(((sort_value(row, sort_field), row["uri"]), row) for row in rows)
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

    def _event(self, uuid: str) -> Resource:
        event = self.store.events.get(uuid)
        if event is None:
            raise not_found()
        return event

    def _require_user_in_organization(self, user_uri: str) -> None:
        if uuid_of(user_uri) not in self.store.roles:
            raise permission_denied("This user is not in your organization")
