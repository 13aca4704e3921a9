"""The Calendly token scopes the pipeline needs (scoped tokens exist since 2026-03-03).

A token without a scope gets 403 on what it guards: the dimension resources
are then skipped with a warning naming the scope; ``scheduled_events`` (and
the ``/users/me`` identity call) fail the run. ``:write`` implies ``:read``.
"""

from __future__ import annotations

# scope -> what a batch run reads with it
BATCH_SCOPE_USES: dict[str, str] = {
    "users:read": "/users/me (the token's identity, every run) and hosts who left",
    "organizations:read": "organization_memberships, users",
    "groups:read": "groups",
    "event_types:read": "event_types",
    "scheduled_events:read": "scheduled_events, invitees (required: the run fails without it)",
    "routing_forms:read": "routing_forms, routing_form_submissions",
    "webhooks:read": "webhook_subscriptions",
}
BATCH_SCOPES: tuple[str, ...] = tuple(BATCH_SCOPE_USES)
# webhook subscriptions: webhooks:write plus the read scope of every event family carried
WEBHOOK_SCOPES: tuple[str, ...] = (
    "users:read",
    "webhooks:write",
    "scheduled_events:read",
    "routing_forms:read",
    "event_types:read",
)
# what `calendly-elt auth login` asks for by default: batch runs and webhooks
DEFAULT_LOGIN_SCOPES: tuple[str, ...] = tuple(
    dict.fromkeys(
        scope if scope != "webhooks:read" else "webhooks:write"
        for scope in (*BATCH_SCOPES, *WEBHOOK_SCOPES)
    )
)


def covers(granted: set[str] | frozenset[str], required: str) -> bool:
    """Whether ``granted`` includes ``required`` (``:write`` covers ``:read``)."""
    if required in granted:
        return True
    family, _, access = required.partition(":")
    return access == "read" and f"{family}:write" in granted


def not_covered(granted: set[str] | frozenset[str], wanted: tuple[str, ...]) -> list[str]:
    """The scopes of ``wanted`` that ``granted`` lacks."""
    return [scope for scope in wanted if not covers(granted, scope)]
