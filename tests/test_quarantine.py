"""Records that break the raw contract are quarantined, never loaded, and never wedge a run.

The API answers are corrupted on the way (a transport between the client and
the simulator rewrites one record), as a buggy or changed API would send them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from source_harness import SourceHarness
from test_models_ground_truth import assert_marts_equal_ground_truth

from calendly_elt.calendly.helpers.known_data import KnownData, KnownEvent
from calendly_elt.calendly.helpers.quarantine import contract_violation
from calendly_elt.calendly.helpers.windows import Window
from calendly_elt.cli.main import main
from calendly_elt.models.runner import build_models
from calendly_elt.runner import run_extraction
from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.ground_truth import compute_ground_truth
from calendly_elt.simulator.store import Store, uuid_of

Rewrite = Callable[[dict[str, Any]], None]


class CorruptingTransport(httpx.BaseTransport):
    """Passes requests to the simulator and rewrites the first record ``pick`` selects."""

    def __init__(self, inner: httpx.BaseTransport, path: str, pick: str, rewrite: Rewrite) -> None:
        self.inner, self.path, self.pick, self.rewrite = inner, path, pick, rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != self.path:
            return response
        body = json.loads(response.read())
        for record in body.get("collection", []):
            if record.get("uri") == self.pick:
                self.rewrite(record)
        return httpx.Response(
            response.status_code, headers=response.headers, json=body, request=request
        )


def _plain_event(store: Store) -> dict[str, Any]:
    """A future event (every run re-reads it) with one invitee, linked to no reschedule."""
    now = store.clock.now()
    for uuid, event in sorted(store.events.items()):
        invitees = [store.invitees[i] for i in store.invitees_by_event.get(uuid, [])]
        if (
            len(invitees) == 1
            and not invitees[0]["old_invitee"]
            and not invitees[0]["new_invitee"]
            and datetime.fromisoformat(event["start_time"].replace("Z", "+00:00")) > now
        ):
            return event
    raise AssertionError("no plain event")


def _without(store: Store, event: dict[str, Any]) -> Store:
    """The same organization (regenerated) minus ``event`` and its invitees."""
    uuid = uuid_of(event["uri"])
    for invitee in store.invitees_by_event.pop(uuid, []):
        del store.invitees[invitee]
    del store.events[uuid]
    return store


def _run(harness: SourceHarness, pipeline: Any, transport: httpx.BaseTransport) -> Any:
    return run_extraction(
        pipeline, harness.settings(), now=harness.store.clock.now, transport=transport
    )


def _scalar(pipeline: Any, sql: str, *args: Any) -> Any:
    with pipeline.sql_client() as client:
        return client.execute_sql(sql, *args)[0][0]


@pytest.mark.parametrize("bad_start", ["2026-13-45T25:61:00Z", "next tuesday"])
def test_a_malformed_start_time_is_quarantined_and_the_next_run_succeeds(
    tmp_path: Path, bad_start: str
) -> None:
    store = generate_organization(seed=3, size="tiny")
    event = _plain_event(store)
    harness = SourceHarness(store, tmp_path)
    transport = CorruptingTransport(
        harness.sim.transport(),
        "/scheduled_events",
        event["uri"],
        lambda record: record.update(start_time=bad_start),
    )
    pipeline = harness.pipeline()
    first = _run(harness, pipeline, transport)
    assert first.quarantined == 1
    row = _quarantine_rows(pipeline)
    assert [(r[0], r[1]) for r in row] == [("scheduled_events", event["uri"])]
    assert "start_time is not a timestamp" in row[0][2] and bad_start in row[0][3]
    columns = _columns(pipeline, "scheduled_events")
    assert "start_time" in columns and not [c for c in columns if "__v_" in c]
    loaded = _scalar(
        pipeline, "select count(*) from calendly.scheduled_events where uri = %s", event["uri"]
    )
    assert loaded == 0
    assert (
        _scalar(pipeline, "select count(*) from calendly.invitees where event = %s", event["uri"])
        == 0
    )

    store.clock.advance(timedelta(hours=1))
    second = _run(harness, pipeline, transport)  # never blocked by what is quarantined
    assert second.kind == "incremental" and second.quarantined == 1
    assert len(_quarantine_rows(pipeline)) == 1  # seen again: still one row

    build_models(pipeline, as_of=store.clock.now())
    rest = _without(generate_organization(seed=3, size="tiny"), event)
    truth = compute_ground_truth(rest, as_of=store.clock.now())
    assert sorted(_bookings(pipeline)) == sorted(
        (row["booking_id"], row["outcome"]) for row in truth.bookings
    )
    assert_marts_equal_ground_truth(pipeline, truth, rest)  # every mart, every column


def test_a_record_without_uri_and_a_wrong_type_are_quarantined_by_their_resource(
    tmp_path: Path,
) -> None:
    store = generate_organization(seed=3, size="tiny")
    event_type = next(iter(store.event_types.values()))
    harness = SourceHarness(store, tmp_path)
    transport = CorruptingTransport(
        harness.sim.transport(),
        "/event_types",
        event_type["uri"],
        lambda record: record.pop("uri"),
    )
    pipeline = harness.pipeline()
    summary = _run(harness, pipeline, transport)
    assert summary.quarantined == 1
    assert [(r[0], r[1], r[2]) for r in _quarantine_rows(pipeline)] == [
        ("event_types", None, "no uri")
    ]
    assert summary.row_counts["event_types"][0] == len(store.event_types) - 1
    assert contract_violation("invitees", {"uri": "u", "rescheduled": "maybe"}) == (
        "rescheduled is not true/false: 'maybe'"
    )
    assert contract_violation("scheduled_events", {"uri": "u", "invitees_counter": {"total": "2"}})


def test_the_cli_exits_4_when_something_was_quarantined_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = generate_organization(seed=3, size="tiny", now=now)
    event = _plain_event(store)
    simulator = Simulator(store, SimConfig(requests_per_minute=1_000_000))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    monkeypatch.setenv("SOURCES__CALENDLY__REQUESTS_PER_MINUTE", "1000000")
    corrupt = CorruptingTransport(
        simulator.transport(),
        "/scheduled_events",
        event["uri"],
        lambda record: record.update(end_time=12),
    )
    monkeypatch.setattr("calendly_elt.calendly.config.httpx.Client", _client_with(corrupt))
    assert main(["run", "--duckdb", "org.duckdb"]) == 4
    captured = capsys.readouterr()
    assert "1 records quarantined" in captured.out and "models built" in captured.out
    assert "1 record(s) broke the raw-table contract" in captured.err
    monkeypatch.setenv("SOURCES__CALENDLY__FAIL_ON_QUARANTINE", "false")
    assert main(["run", "--duckdb", "org.duckdb"]) == 0


def _client_with(transport: httpx.BaseTransport) -> Any:
    real = httpx.Client

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs["transport"] = transport
        return real(*args, **kwargs)

    return client


def test_a_row_loaded_without_start_before_quarantine_existed_wedges_nothing() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    known = KnownData(events={"E": KnownEvent(None, None, ("fp",))})  # type: ignore[arg-type]
    assert known.vanished_events(Window(now - timedelta(days=30), now), set()) == []


def _quarantine_rows(pipeline: Any) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [
            tuple(row)
            for row in client.execute_sql(
                "select resource, record_key, reason, raw_json from calendly.quarantine"
                " order by resource, record_key"
            )
        ]


def _columns(pipeline: Any, table: str) -> list[str]:
    with pipeline.sql_client() as client:
        return [
            row[0]
            for row in client.execute_sql(
                "select column_name from information_schema.columns"
                " where table_schema = 'calendly' and table_name = %s",
                table,
            )
        ]


def _bookings(pipeline: Any) -> list[tuple[Any, Any]]:
    with pipeline.sql_client() as client:
        return [
            (row[0], row[1])
            for row in client.execute_sql(
                "select booking_id, outcome from calendly_analytics.fct_bookings"
            )
        ]
