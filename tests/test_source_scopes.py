"""Scoped tokens through the whole run: a missing dimension scope warns, events' fails the run."""

from __future__ import annotations

import logging
import pickle

import httpx
import pytest
from source_harness import SourceHarness, assert_matches_store, table_rows

from calendly_elt.calendly.helpers.errors import (
    CalendlyBadRequestError,
    CalendlyForbiddenError,
    error_from_response,
)
from calendly_elt.calendly.helpers.scopes import BATCH_SCOPES, DEFAULT_LOGIN_SCOPES, not_covered
from calendly_elt.errors import CalendlyEltError
from calendly_elt.runner import run_extraction

DIMENSIONS = ("event_types", "groups", "organization_memberships", "routing_forms", "users",
              "webhook_subscriptions")  # fmt: skip


def run_with_scopes(
    harness: SourceHarness, scopes: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> tuple[object, list[str]]:
    token = harness.sim.create_personal_access_token(scopes=scopes)
    pipeline = harness.pipeline()
    with caplog.at_level(logging.WARNING, logger="calendly_elt.calendly"):
        run_extraction(
            pipeline,
            harness.settings(access_token=token),
            now=harness.store.clock.now,
            transport=harness.sim.transport(),
        )
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.name.startswith("calendly_elt")]  # fmt: skip
    return pipeline, warnings


def test_the_batch_scopes_read_everything_without_a_warning(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, warnings = run_with_scopes(tiny_harness, BATCH_SCOPES, caplog)
    assert warnings == []
    assert_matches_store(pipeline, tiny_harness.store)


def test_without_routing_forms_read_the_run_succeeds_and_names_resource_and_scope(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture
) -> None:
    store = tiny_harness.store
    assert store.routing_forms  # there is something to miss
    scopes = tuple(scope for scope in BATCH_SCOPES if scope != "routing_forms:read")
    pipeline, warnings = run_with_scopes(tiny_harness, scopes, caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("skipping routing_forms: 403 Permission Denied")
    assert "create a token with scope routing_forms:read" in warnings[0]
    assert "calendly-elt auth login" in warnings[0]
    assert table_rows(pipeline, "routing_forms") == []
    assert_matches_store(pipeline, store, ("scheduled_events", "invitees", "event_types", "users"))


@pytest.mark.parametrize("dropped", [s for s in BATCH_SCOPES if s not in (
    "scheduled_events:read", "users:read", "routing_forms:read")])  # fmt: skip
def test_each_dimension_scope_is_needed(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture, dropped: str
) -> None:
    scopes = tuple(scope for scope in BATCH_SCOPES if scope != dropped)
    _, warnings = run_with_scopes(tiny_harness, scopes, caplog)
    assert warnings, f"{dropped} is not needed by a batch run"
    assert all(dropped in warning for warning in warnings)
    assert all(warning.split(":")[0].split()[-1] in DIMENSIONS for warning in warnings)


@pytest.mark.parametrize("dropped", ["scheduled_events:read", "users:read"])
def test_without_events_or_identity_scope_the_run_fails_naming_it(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture, dropped: str
) -> None:
    scopes = tuple(scope for scope in BATCH_SCOPES if scope != dropped)
    with pytest.raises(CalendlyForbiddenError) as failure:
        run_with_scopes(tiny_harness, scopes, caplog)
    message = str(failure.value)
    assert "\n" not in message
    assert f"create a token with scope {dropped}" in message
    assert failure.value.missing_scopes == [dropped]
    assert isinstance(failure.value, CalendlyEltError)


def test_the_scope_error_never_shows_the_token(tiny_harness: SourceHarness) -> None:
    token = tiny_harness.sim.create_personal_access_token(scopes=["users:read"])
    request = httpx.Request("GET", "https://api.calendly.com/routing_forms?organization=x",
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    response = tiny_harness.sim.transport().handle_request(request)
    error = error_from_response(response, secrets=[token])
    assert isinstance(error, CalendlyForbiddenError)
    assert error.missing_scopes == ["routing_forms:read"]
    assert token not in str(error)
    assert error.url == "/routing_forms"
    # the scope advice wins over the org-admin advice an organization= query would get
    assert "org admin" not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.missing_scopes, str(copy)) == (error.missing_scopes, str(error))


def test_scopes_are_read_from_calendly_wordings_too() -> None:
    request = httpx.Request("POST", "https://api.calendly.com/webhook_subscriptions")
    calendly = httpx.Response(403, request=request, json={
        "title": "Insufficient scope",
        "message": "This operation requires the scopes listed in the 'required_scopes' array.",
        "required_scopes": ["webhooks:write"]})  # fmt: skip
    error = error_from_response(calendly)
    assert isinstance(error, CalendlyForbiddenError)
    assert error.missing_scopes == ["webhooks:write"]
    detail = {"parameter": "events", "message": "these events require scheduled_events:read"}
    invalid = httpx.Response(400, request=request, json={
        "title": "Invalid Argument", "message": "The supplied parameters are invalid.",
        "details": [detail]})  # fmt: skip
    bad = error_from_response(invalid)
    assert isinstance(bad, CalendlyBadRequestError)
    assert bad.missing_scopes == ["scheduled_events:read"]
    assert "create a token with scope scheduled_events:read" in str(bad)
    denied = {"title": "Permission Denied", "message": "You do not have permission"}
    plain = httpx.Response(403, request=request, json=denied)
    assert error_from_response(plain).missing_scopes == []


def test_the_default_login_scopes_cover_batch_runs_and_webhooks() -> None:
    granted = frozenset(DEFAULT_LOGIN_SCOPES)
    assert not_covered(granted, BATCH_SCOPES) == []
    assert "webhooks:write" in granted and "webhooks:read" not in granted  # write implies read
    assert not_covered(frozenset({"users:read"}), ("users:read", "groups:read")) == ["groups:read"]
