"""Token scopes: which scope guards which route, and Calendly's refusal when one is missing.

Since 2026-03-03 Calendly issues personal access tokens and OAuth tokens with
a scope list and refuses what a missing scope guards. A token issued before
(``scopes=None`` here, ``"default"`` on the wire) keeps full access. A
``:write`` scope implies the ``:read`` scope of its family.

A route's scope follows from its first path segment (its resource family) and
its method: ``GET`` needs ``<family>:read``, anything else ``<family>:write``.
``GET /users/me`` needs ``users:read``, as Calendly's "Get user" reference
says (``me`` is one value of the same ``{uuid}`` parameter).

A webhook subscription also needs the read scope of every event family it
carries; Calendly answers a missing one with a 400 on ``events``.
"""

from __future__ import annotations

from collections.abc import Iterable

from calendly_elt.simulator.store import SimulatorError

LEGACY_SCOPE = "default"
FAMILY_OF_SEGMENT: dict[str, str] = {
    "users": "users",
    "organizations": "organizations",
    "organization_memberships": "organizations",
    "groups": "groups",
    "group_relationships": "groups",
    "event_types": "event_types",
    "event_type_memberships": "event_types",
    "event_type_available_times": "event_types",
    "scheduled_events": "scheduled_events",
    "invitee_no_shows": "scheduled_events",
    "routing_forms": "routing_forms",
    "routing_form_submissions": "routing_forms",
    "webhook_subscriptions": "webhooks",
    "user_availability_schedules": "availability",
    "user_busy_times": "availability",
    "activity_log_entries": "activity_log",
    "contacts": "contacts",
    "data_compliance": "data_compliance",
}
FAMILIES = tuple(dict.fromkeys(FAMILY_OF_SEGMENT.values()))
KNOWN_SCOPES = frozenset(
    f"{family}:{access}" for family in FAMILIES for access in ("read", "write")
)
# the read scope a webhook subscription needs per event family (the name before the dot)
WEBHOOK_EVENT_SCOPES: dict[str, str] = {
    "invitee": "scheduled_events:read",
    "invitee_no_show": "scheduled_events:read",
    "routing_form_submission": "routing_forms:read",
    "event_type": "event_types:read",
    "contact": "contacts:read",
}
MISSING_SCOPE_MESSAGE = "The access token does not have the scope this operation requires."

Scopes = frozenset[str] | None


def parse_scopes(text: str | None) -> Scopes:
    """A space-separated scope string as a set; None (full access) for none or ``default``."""
    names = frozenset((text or "").split())
    if not names or names == {LEGACY_SCOPE}:
        return None
    return names


def format_scopes(scopes: Scopes) -> str:
    """The wire form: space-separated and sorted, ``default`` for a legacy token."""
    return LEGACY_SCOPE if scopes is None else " ".join(sorted(scopes))


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """The names in ``scopes`` that Calendly does not define."""
    return sorted(set(scopes) - KNOWN_SCOPES - {LEGACY_SCOPE})


def has_scope(granted: Scopes, required: str) -> bool:
    """Whether ``granted`` covers ``required`` (``:write`` covers ``:read``; None covers all)."""
    if granted is None or required in granted:
        return True
    family, _, access = required.partition(":")
    return access == "read" and f"{family}:write" in granted


def route_scope(method: str, template: str) -> str | None:
    """The scope guarding ``method template`` (``GET /routing_forms`` -> ``routing_forms:read``).

    Returns:
        The scope, or None for a path outside every known family.
    """
    segment = template.strip("/").split("/", 1)[0]
    family = FAMILY_OF_SEGMENT.get(segment)
    if family is None:
        return None
    return f"{family}:{'read' if method.upper() == 'GET' else 'write'}"


def missing_scope(required: str) -> SimulatorError:
    """Calendly's 403 for a token without ``required``, naming it."""
    return SimulatorError(
        403,
        "Permission Denied",
        MISSING_SCOPE_MESSAGE,
        [{"parameter": "scope", "message": f"requires {required}"}],
    )


def require_route_scope(granted: Scopes, method: str, template: str) -> None:
    """Raise the 403 when ``granted`` lacks the scope of the route.

    Raises:
        SimulatorError: 403 naming the scope.
    """
    required = route_scope(method, template)
    if required is not None and not has_scope(granted, required):
        raise missing_scope(required)


def require_webhook_event_scopes(granted: Scopes, events: Iterable[str]) -> None:
    """Raise a 400 on ``events`` when a carried event family's read scope is missing.

    Raises:
        SimulatorError: 400 Invalid Argument naming each missing scope.
    """
    missing = {
        scope
        for event in events
        if (scope := WEBHOOK_EVENT_SCOPES.get(event.split(".", 1)[0])) is not None
        and not has_scope(granted, scope)
    }
    if missing:
        raise SimulatorError(
            400,
            "Invalid Argument",
            "The supplied parameters are invalid.",
            [
                {"parameter": "events", "message": f"subscribing to these events requires {scope}"}
                for scope in sorted(missing)
            ],
        )
