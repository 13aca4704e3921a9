"""A full load equals the simulator's state exactly: every row, field and child row."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
from source_harness import (
    SourceHarness,
    assert_matches_store,
    expected_tables,
    loaded_tree,
    query,
    table_rows,
)

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.errors import ConfigError
from calendly_elt.runner import run_extraction


def test_full_load_equals_the_simulator_state(small_harness: SourceHarness) -> None:
    pipeline = small_harness.pipeline()
    summary = small_harness.run(pipeline)

    store = small_harness.store
    assert summary.kind == "backfill"
    assert summary.events == len(store.events) == 1000
    assert summary.invitee_calls == len(store.events)
    assert summary.row_counts["invitees"] == (len(store.invitees), 0)
    assert_matches_store(pipeline, store)
    # child tables are part of the comparison; make sure they were really there
    events = loaded_tree(pipeline, "scheduled_events")
    memberships = sum(
        len(tree["children"].get("scheduled_events__event_memberships", []))
        for tree in events.values()
    )
    assert memberships == sum(len(e["event_memberships"]) for e in store.events.values())
    answers = query(pipeline, "select count(*) from calendly.invitees__questions_and_answers")
    expected_answers = sum(len(i["questions_and_answers"]) for i in store.invitees.values())
    assert answers[0][0] == expected_answers > 0


def test_webhook_subscriptions_are_loaded_and_replaced(tiny_harness: SourceHarness) -> None:
    store = tiny_harness.store
    organization = store.organization["uri"]
    headers = {"Authorization": f"Bearer {store.admin_token}"}
    with httpx.Client(transport=tiny_harness.sim.transport(), base_url="https://api.calendly.com",
                      headers=headers) as client:  # fmt: skip
        for url in ("https://crm.example/hook", "https://chat.example/hook"):
            hook = {"url": url, "events": ["invitee.created", "invitee.canceled"],
                    "organization": organization, "scope": "organization"}  # fmt: skip
            assert client.post("/webhook_subscriptions", json=hook).status_code == 201
        pipeline = tiny_harness.pipeline()
        tiny_harness.run(pipeline)
        assert_matches_store(pipeline, store, ["webhook_subscriptions"])
        assert len(loaded_tree(pipeline, "webhook_subscriptions")) == 2
        gone = next(iter(store.webhook_subscriptions))
        assert client.delete(f"/webhook_subscriptions/{gone}").status_code == 204
    tiny_harness.run(pipeline)
    loaded = loaded_tree(pipeline, "webhook_subscriptions")
    assert len(loaded) == 1 and f"/webhook_subscriptions/{gone}" not in next(iter(loaded))


def test_timestamps_are_timezone_aware_utc(tiny_harness: SourceHarness) -> None:
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    row = table_rows(pipeline, "scheduled_events")[0]
    assert row["start_time"].tzinfo is not None
    assert row["start_time"].utcoffset().total_seconds() == 0
    columns = pipeline.default_schema.tables["invitees"]["columns"]
    assert columns["created_at"]["data_type"] == "timestamp"
    assert columns["is_deleted"]["data_type"] == "bool"


def test_every_resource_states_disposition_and_key(tiny_harness: SourceHarness) -> None:
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    tables = pipeline.default_schema.tables
    replaced = {"organization_memberships", "groups", "webhook_subscriptions"}
    for table in expected_tables(tiny_harness.store):
        if table not in tables:
            continue
        disposition = "replace" if table in replaced else "merge"
        assert tables[table]["write_disposition"] == disposition, table
        assert tables[table]["columns"]["uri"].get("primary_key") is True, table


def test_organization_defaults_to_the_token_users_current_organization(
    tiny_harness: SourceHarness,
) -> None:
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    organizations = query(pipeline, "select distinct organization from calendly.groups")
    assert organizations == [(tiny_harness.store.organization["uri"],)]


def test_non_admin_token_with_user_scope_loads_that_users_events(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture
) -> None:
    store = tiny_harness.store
    member_uuid = store.personal_access_tokens[store.member_token]
    member_uri = store.users[member_uuid]["uri"]
    settings = tiny_harness.settings(access_token=store.member_token, scope="user")
    pipeline = tiny_harness.pipeline()

    with caplog.at_level(logging.WARNING):
        summary = tiny_harness.run(pipeline, settings=settings)

    hosted = [
        event
        for event in store.events.values()
        if any(m["user"] == member_uri for m in event["event_memberships"])
    ]
    assert 0 < summary.events == len(hosted) < len(store.events)
    expected = expected_tables(store)
    events = loaded_tree(pipeline, "scheduled_events")
    assert events == {e["uri"]: expected["scheduled_events"][e["uri"]] for e in hosted}
    hosted_uris = {e["uri"] for e in hosted}
    invitees = loaded_tree(pipeline, "invitees")
    assert invitees == {
        uri: tree
        for uri, tree in expected["invitees"].items()
        if tree["row"]["event"] in hosted_uris
    }
    assert member_uri in loaded_tree(pipeline, "users")


def test_a_narrower_scope_on_a_loaded_dataset_is_refused_unless_full_refresh(
    tiny_harness: SourceHarness,
) -> None:
    store = tiny_harness.store
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)
    live_events = len(loaded_tree(pipeline, "scheduled_events"))
    assert live_events == len(store.events)
    admin_only = tiny_harness.settings(scope="user")

    refused = r"holds scope=organization data of .* this run reads scope=user data of .*--full"
    with pytest.raises(ConfigError, match=refused):
        tiny_harness.run(pipeline, settings=admin_only)
    assert len(loaded_tree(pipeline, "scheduled_events")) == live_events  # nothing marked

    tiny_harness.run(pipeline, settings=admin_only, full_refresh=True)
    admin = store.users[store.personal_access_tokens[store.admin_token]]["uri"]
    hosted = {e["uri"] for e in store.events.values()
              if any(m["user"] == admin for m in e["event_memberships"])}  # fmt: skip
    assert set(loaded_tree(pipeline, "scheduled_events")) == hosted
    tiny_harness.run(pipeline, settings=admin_only)  # the new share is now the recorded one
    with pytest.raises(ConfigError, match="holds scope=user data"):
        tiny_harness.run(pipeline)


def test_organization_scope_with_a_member_token_fails_with_advice(
    tiny_harness: SourceHarness,
) -> None:
    from calendly_elt.calendly.helpers.errors import CalendlyForbiddenError

    settings = tiny_harness.settings(access_token=tiny_harness.store.member_token)
    with pytest.raises(
        CalendlyForbiddenError, match=r"with scope = \"user\" under \[sources.calendly\]"
    ):
        tiny_harness.run(settings=settings)


def test_missing_credentials_name_the_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CALENDLY_ACCESS_TOKEN", "CALENDLY_CLIENT_ID", "CALENDLY_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="CALENDLY_ACCESS_TOKEN"):
        resolve_settings()


class _RefusingTransport(httpx.BaseTransport):
    """The simulator, except that some list paths answer 403 or 404 (rights, plan)."""

    def __init__(self, inner: httpx.BaseTransport, refusals: dict[str, int]) -> None:
        self.inner = inner
        self.refusals = refusals

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status = self.refusals.get(request.url.path)
        if status is None:
            return self.inner.handle_request(request)
        title = "Permission Denied" if status == 403 else "Resource Not Found"
        return httpx.Response(status, json={"title": title, "message": "not on your plan"})


def test_a_resource_refused_by_rights_or_plan_is_skipped_with_a_warning(
    tiny_harness: SourceHarness, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = {"/routing_forms": 404, "/groups": 403}
    pipeline = tiny_harness.pipeline()
    with caplog.at_level(logging.WARNING, logger="calendly_elt.calendly"):
        summary = run_extraction(
            pipeline,
            tiny_harness.settings(),
            now=tiny_harness.store.clock.now,
            transport=_RefusingTransport(tiny_harness.sim.transport(), refusals),
        )

    skipped = sorted(r.getMessage() for r in caplog.records if "skipping" in r.getMessage())
    assert [message.split(":")[0] for message in skipped] == [
        "skipping groups",
        "skipping routing_forms",
    ]
    assert "403 Permission Denied" in skipped[0] and "404 Resource Not Found" in skipped[1]
    assert summary.events == len(tiny_harness.store.events)
    assert table_rows(pipeline, "groups") == table_rows(pipeline, "routing_forms") == []
    assert_matches_store(
        pipeline, tiny_harness.store, ("scheduled_events", "invitees", "event_types", "users")
    )


class _InFlightTransport(httpx.BaseTransport):
    """The simulator, recording how many invitee calls are in flight at once."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/invitees"):
            return self.inner.handle_request(request)
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.05)  # long enough for the other workers to start theirs
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_invitee_calls_run_concurrently_up_to_max_concurrency(
    tiny_harness: SourceHarness, max_concurrency: int
) -> None:
    transport = _InFlightTransport(tiny_harness.sim.transport())
    summary = run_extraction(
        tiny_harness.pipeline(),
        tiny_harness.settings(max_concurrency=max_concurrency),
        now=tiny_harness.store.clock.now,
        transport=transport,
    )
    assert summary.invitee_calls == len(tiny_harness.store.events)
    assert transport.peak == max_concurrency
