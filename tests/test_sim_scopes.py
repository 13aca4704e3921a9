"""Token scopes on the simulator: every route guarded, Calendly's 403, grants, introspection."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from calendly_elt.simulator import Simulator, generate_organization
from calendly_elt.simulator.api import ROUTES
from calendly_elt.simulator.scopes import KNOWN_SCOPES, route_scope
from calendly_elt.simulator.store import uri_of

BASE = "https://api.calendly.com"
CLIENT_ID, CLIENT_SECRET = "scoped-app", "scoped-secret"
REDIRECT = "http://127.0.0.1/callback"  # loopback without a port: any port is accepted


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator(generate_organization(seed=7, size="tiny"))
    simulator.register_oauth_client(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    return simulator


@pytest.fixture
def http(sim: Simulator) -> httpx.Client:
    return httpx.Client(transport=sim.transport(), base_url=BASE)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def without_family(scope: str) -> set[str]:
    family = scope.split(":")[0]
    return {name for name in KNOWN_SCOPES if not name.startswith(f"{family}:")}


def call(http: httpx.Client, method: str, template: str, token: str) -> httpx.Response:
    path = re.sub(r"\{\w+\}", "00000000-0000-4000-8000-000000000000", template)
    body = {} if method in ("POST", "PATCH", "PUT") else None
    return http.request(method, path, headers=bearer(token), json=body)


def scope_refusal(scope: str) -> dict[str, object]:
    return {
        "title": "Permission Denied",
        "message": "The access token does not have the scope this operation requires.",
        "details": [{"parameter": "scope", "message": f"requires {scope}"}],
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.label)
def test_every_route_refuses_a_token_without_its_scope(
    sim: Simulator, http: httpx.Client, route: object
) -> None:
    method, template = route.method, route.template  # type: ignore[attr-defined]
    required = route_scope(method, template)
    assert required in KNOWN_SCOPES  # no route is left unguarded
    lacking = sim.create_personal_access_token(scopes=without_family(required))
    refused = call(http, method, template, lacking)
    assert refused.status_code == 403
    assert refused.json() == scope_refusal(required)
    holding = sim.create_personal_access_token(scopes=[required])
    allowed = call(http, method, template, holding)
    assert allowed.json() != scope_refusal(required)  # past the scope check (404, 400, ...)


def test_the_guarded_scopes_follow_calendly_names() -> None:
    assert route_scope("GET", "/users/me") == "users:read"
    assert route_scope("GET", "/organization_memberships") == "organizations:read"
    assert route_scope("GET", "/organizations/{uuid}") == "organizations:read"
    assert route_scope("GET", "/scheduled_events/{uuid}/invitees") == "scheduled_events:read"
    assert route_scope("POST", "/scheduled_events/{uuid}/cancellation") == "scheduled_events:write"
    assert route_scope("POST", "/invitee_no_shows") == "scheduled_events:write"
    assert route_scope("GET", "/routing_form_submissions") == "routing_forms:read"
    assert route_scope("DELETE", "/webhook_subscriptions/{uuid}") == "webhooks:write"
    assert route_scope("GET", "/groups") == "groups:read"
    assert route_scope("POST", "/data_compliance/deletion/invitees") == "data_compliance:write"


def test_write_implies_read_and_legacy_tokens_keep_full_access(
    sim: Simulator, http: httpx.Client
) -> None:
    organization = sim.store.organization["uri"]
    writer = sim.create_personal_access_token(scopes=["scheduled_events:write"])
    listed = http.get("/scheduled_events", params={"organization": organization},
                      headers=bearer(writer))  # fmt: skip
    assert listed.status_code == 200
    assert listed.json()["collection"]
    reader = sim.create_personal_access_token(scopes=["scheduled_events:read"])
    event = next(iter(sim.store.events))
    cancel = http.post(f"/scheduled_events/{event}/cancellation", headers=bearer(reader), json={})
    assert cancel.json() == scope_refusal("scheduled_events:write")
    legacy = sim.create_personal_access_token()  # no scope list: issued before 2026-03-03
    assert http.get("/routing_forms", params={"organization": organization},
                    headers=bearer(legacy)).status_code == 200  # fmt: skip
    assert http.get("/users/me", headers=bearer(sim.admin_token)).status_code == 200


def test_users_me_needs_users_read(sim: Simulator, http: httpx.Client) -> None:
    nothing = sim.create_personal_access_token(scopes=["scheduled_events:read"])
    assert http.get("/users/me", headers=bearer(nothing)).json() == scope_refusal("users:read")
    users = sim.create_personal_access_token(scopes=["users:read"])
    admin = sim.store.personal_access_tokens[sim.admin_token]
    body = http.get("/users/me", headers=bearer(users)).json()
    assert body["resource"]["uri"] == uri_of("users", admin)


def test_webhook_creation_needs_write_and_each_event_family_read_scope(
    sim: Simulator, http: httpx.Client
) -> None:
    organization = sim.store.organization["uri"]
    hook = {"url": "https://hooks.example/calendly", "organization": organization,
            "scope": "organization",
            "events": ["invitee.created", "routing_form_submission.created"]}  # fmt: skip
    read_only = sim.create_personal_access_token(
        scopes=["webhooks:read", "scheduled_events:read", "routing_forms:read"]
    )
    refused = http.post("/webhook_subscriptions", json=hook, headers=bearer(read_only))
    assert refused.json() == scope_refusal("webhooks:write")
    no_forms = sim.create_personal_access_token(scopes=["webhooks:write", "scheduled_events:read"])
    invalid = http.post("/webhook_subscriptions", json=hook, headers=bearer(no_forms))
    assert invalid.status_code == 400
    assert invalid.json() == {
        "title": "Invalid Argument",
        "message": "The supplied parameters are invalid.",
        "details": [{"parameter": "events",
                     "message": "subscribing to these events requires routing_forms:read"}],
    }  # fmt: skip
    assert sim.store.webhook_subscriptions == {}
    full = sim.create_personal_access_token(
        scopes=["webhooks:write", "scheduled_events:read", "routing_forms:read"]
    )
    created = http.post("/webhook_subscriptions", json=hook, headers=bearer(full))
    assert created.status_code == 201
    assert created.json()["resource"]["events"] == hook["events"]


def test_unknown_scope_names_are_refused_by_the_token_api(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="scheduled_events:raed"):
        sim.create_personal_access_token(scopes=["scheduled_events:raed"])


# ---- OAuth: scope=, consent, introspection, revocation -------------------------------------


def authorize(http: httpx.Client, redirect: str, **params: str) -> dict[str, list[str]]:
    query = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": redirect,
             "state": "s-1", **params}  # fmt: skip
    response = http.get("/oauth/authorize", params=query)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    return parse_qs(location.query)


def exchange(http: httpx.Client, code: str, redirect: str) -> dict[str, object]:
    response = http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})  # fmt: skip
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def introspect(http: httpx.Client, token: str, secret: str = CLIENT_SECRET) -> httpx.Response:
    return http.post("/oauth/introspect", data={"token": token, "client_id": CLIENT_ID,
                                                "client_secret": secret})  # fmt: skip


def test_authorize_grants_the_requested_scopes_minus_the_refused_ones(
    sim: Simulator, http: httpx.Client
) -> None:
    redirect = "http://127.0.0.1:50123/callback"  # any port on the registered loopback URI
    query = authorize(http, redirect, scope="users:read scheduled_events:read routing_forms:read",
                      refuse_scope="routing_forms:read")  # fmt: skip
    assert query["state"] == ["s-1"]
    tokens = exchange(http, query["code"][0], redirect)
    assert tokens["scope"] == "scheduled_events:read users:read"
    access = str(tokens["access_token"])
    organization = sim.store.organization["uri"]
    forms = http.get("/routing_forms", params={"organization": organization},
                     headers=bearer(access))  # fmt: skip
    assert forms.json() == scope_refusal("routing_forms:read")
    assert http.get("/users/me", headers=bearer(access)).status_code == 200

    described = introspect(http, access).json()
    assert described["active"] is True
    assert described["scope"] == "scheduled_events:read users:read"
    assert described["client_id"] == CLIENT_ID
    assert described["exp"] - described["iat"] == 7200
    admin = sim.store.personal_access_tokens[sim.admin_token]
    assert described["owner"] == uri_of("users", admin)
    assert described["organization"] == organization

    rotated = http.post("/oauth/token", data={"grant_type": "refresh_token",
                        "refresh_token": tokens["refresh_token"]},
                        auth=(CLIENT_ID, CLIENT_SECRET)).json()  # fmt: skip
    assert rotated["scope"] == "scheduled_events:read users:read"  # a refresh keeps the grant
    assert introspect(http, rotated["refresh_token"]).json()["scope"] == rotated["scope"]


def test_authorize_refusals_redirect_with_an_error(http: httpx.Client) -> None:
    redirect = "http://127.0.0.1:41000/callback"
    unknown = authorize(http, redirect, scope="users:read calendars:read")
    assert unknown["error"] == ["invalid_scope"]
    assert "code" not in unknown
    denied = authorize(http, redirect, scope="users:read", consent="deny")
    assert denied["error"] == ["access_denied"]
    assert denied["state"] == ["s-1"]
    other_host = http.get("/oauth/authorize", params={
        "client_id": CLIENT_ID, "response_type": "code",
        "redirect_uri": "http://evil.example:41000/callback"})  # fmt: skip
    assert other_host.status_code == 400


def test_no_scope_parameter_is_a_legacy_default_grant(sim: Simulator, http: httpx.Client) -> None:
    redirect = "http://127.0.0.1:41001/callback"
    tokens = exchange(http, authorize(http, redirect)["code"][0], redirect)
    assert tokens["scope"] == "default"
    assert introspect(http, str(tokens["access_token"])).json()["scope"] == "default"
    organization = sim.store.organization["uri"]
    forms = http.get("/routing_forms", params={"organization": organization},
                     headers=bearer(str(tokens["access_token"])))  # fmt: skip
    assert forms.status_code == 200


def test_introspection_of_expired_revoked_and_foreign_tokens(
    sim: Simulator, http: httpx.Client
) -> None:
    admin = sim.store.personal_access_tokens[sim.admin_token]
    tokens = sim.issue_oauth_tokens(admin, CLIENT_ID, scopes=["users:read"])
    assert introspect(http, tokens["access_token"], secret="wrong").status_code == 401
    assert introspect(http, "never-issued").json() == {"active": False}
    assert introspect(http, sim.admin_token).json() == {"active": False}
    sim.clock.advance(timedelta(hours=2))
    assert introspect(http, tokens["access_token"]).json() == {"active": False}
    assert introspect(http, tokens["refresh_token"]).json()["active"] is True


def test_revoking_a_refresh_token_revokes_its_access_token(
    sim: Simulator, http: httpx.Client
) -> None:
    admin = sim.store.personal_access_tokens[sim.admin_token]
    tokens = sim.issue_oauth_tokens(admin, CLIENT_ID, scopes=["users:read"])
    assert http.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    form = {"token": tokens["refresh_token"], "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}  # fmt: skip
    assert http.post("/oauth/revoke", data=form).status_code == 200
    assert http.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    reused = http.post("/oauth/token", data={"grant_type": "refresh_token",
                       "refresh_token": tokens["refresh_token"]},
                       auth=(CLIENT_ID, CLIENT_SECRET))  # fmt: skip
    assert reused.json()["error"] == "invalid_grant"
    assert http.post("/oauth/revoke", data=form).status_code == 200  # unknown now: still 200
    assert introspect(http, tokens["access_token"]).json() == {"active": False}
