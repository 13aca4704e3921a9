"""Reach: which share of Calendly a run reads, and the owner filter of its list calls.

``scope = "organization"`` (an admin or owner token) reads the whole
organization; ``scope = "user"`` reads the token user's own events. Both
need the token user's URI and organization, from ``GET /users/me``: asked
once per :class:`Reach` (the runner builds one per run and hands it to every
source it creates).
"""

from __future__ import annotations

from functools import cached_property

from calendly_elt.calendly.config import CalendlySettings
from calendly_elt.calendly.helpers.client import CalendlyClient


class Reach:
    """What one run reads.

    Attributes:
        scope: ``organization`` or ``user``.
    """

    def __init__(self, client: CalendlyClient, settings: CalendlySettings) -> None:
        self._client = client
        self._configured_organization = settings.organization
        self.scope = settings.scope

    @cached_property
    def _me(self) -> tuple[str, str]:
        me = self._client.get("/users/me")["resource"]
        return me["uri"], me.get("current_organization") or ""

    @property
    def user(self) -> str:
        """The token user's URI."""
        return self._me[0]

    @property
    def organization(self) -> str:
        """The organization read: the configured one, else the token user's current one."""
        return self._configured_organization or self._me[1]

    def describe(self) -> dict[str, str | None]:
        """Scope, organization and, in user scope, the user (what a dataset records)."""
        user = self.user if self.scope == "user" else None
        return {"scope": self.scope, "organization": self.organization, "user": user}

    def owner_query(self) -> dict[str, str]:
        """``organization=`` (organization scope) or ``user=`` (user scope) of list calls."""
        if self.scope == "user":
            return {"user": self.user}
        return {"organization": self.organization}

    def organization_query(self) -> dict[str, str]:
        """``organization=`` whatever the scope (groups, routing forms)."""
        return {"organization": self.organization}

    def subscription_query(self) -> dict[str, str]:
        """The webhook subscriptions of the run's scope (and, in user scope, its user)."""
        query = {"organization": self.organization, "scope": self.scope}
        if self.scope == "user":
            query["user"] = self.user
        return query
