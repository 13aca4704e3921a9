"""Plan rules of the simulator's ``POST /webhook_subscriptions``.

Since 2026-11-03 Calendly offers webhooks on every plan, but events of paid
features still need the feature: routing-form events need a plan with routing
forms (Teams, Enterprise). Before that date the free plan had no webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

WEBHOOKS_ON_EVERY_PLAN_SINCE = datetime(2026, 11, 3, tzinfo=UTC)
FREE_PLANS = ("basic", "free")
ROUTING_FORM_PLANS = ("teams", "enterprise")
PLAN_FEATURE_EVENTS = ("routing_form_submission.created",)


def plan_refusal(plan: str | None, events: Iterable[str], now: datetime) -> str | None:
    """Why an organization on ``plan`` may not subscribe to ``events`` at ``now`` (or None).

    Args:
        plan: The organization's ``plan`` (``basic``, ``standard``, ``teams``...).
        events: The requested event names.
        now: The simulated instant of the request.

    Returns:
        Calendly's 403 message, or None when the plan allows every event.
    """
    plan = (plan or "basic").lower()
    if now < WEBHOOKS_ON_EVERY_PLAN_SINCE and plan in FREE_PLANS:
        return "Please upgrade your Calendly account to Standard"
    gated = [event for event in events if event in PLAN_FEATURE_EVENTS]
    if gated and plan not in ROUTING_FORM_PLANS:
        return f"Please upgrade your Calendly account to Teams to receive {', '.join(gated)}"
    return None
