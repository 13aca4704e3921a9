"""Landed webhook deliveries reach the raw tables and the marts between batch runs.

A subscription on the simulator delivers through the real receiver app into a
landing folder; ``merge_landed_webhooks`` (what ``webhooks load`` and the end
of every ``run`` do) merges them. The rule: a delivery is applied when it was
created after the batch last read that record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import pytest
from source_harness import SourceHarness, assert_matches_store
from webhook_helpers import AsgiClient

from calendly_elt.calendly.config import build_client
from calendly_elt.calendly.helpers.known_data import KnownData, KnownEvent
from calendly_elt.calendly.helpers.webhook_merge import plan_merge
from calendly_elt.cli.main import main
from calendly_elt.models.runner import build_models
from calendly_elt.runner import merge_landed_webhooks, run_extraction
from calendly_elt.simulator import SimConfig, event_type_mutations, generate_organization, mutations
from calendly_elt.simulator.ground_truth import compute_ground_truth
from calendly_elt.simulator.store import Store, parse_ts, uuid_of
from calendly_elt.webhooks import subscriptions
from calendly_elt.webhooks.keys import SigningKeyStore
from calendly_elt.webhooks.landing import LandedDelivery, LandingStore, iter_deliveries
from calendly_elt.webhooks.receiver import create_app

RECEIVER_URL = "https://hooks.example.com/webhooks/calendly"
EVENTS = list(subscriptions.DEFAULT_EVENTS)  # every event family, routing forms too
MARTS = ("fct_bookings", "metrics_utm_attribution", "metrics_no_shows", "metrics_cancellations")


class Rig:
    """An organization, a subscription, the receiver app landing into a folder, a pipeline."""

    def __init__(self, folder: Path, store: Store, name: str = "org") -> None:
        store.organization["plan"] = "teams"  # routing-form webhooks need the feature
        self.store = store
        self.harness = SourceHarness(store, folder, SimConfig(deliver_webhooks=True))
        self.landing_dir = folder / "landing"
        self.settings = self.harness.settings(webhook_landing_dir=str(self.landing_dir))
        self.pipeline = self.harness.pipeline(name)
        self.database = folder / f"{name}.duckdb"  # where harness.pipeline(name) loads
        self.statuses: list[int] = []
        self.receiver: AsgiClient | None = None

    def subscribe(self, folder: Path) -> None:
        client = build_client(self.settings, transport=self.harness.sim.transport())
        keys = SigningKeyStore(folder / "keys.json")
        subscriptions.subscribe(client, keys, url=RECEIVER_URL, events=EVENTS)
        client.close()
        (entry,) = keys.entries()
        landing = LandingStore(self.landing_dir, clock=self.store.clock.now)
        clock = self.store.clock
        app = create_app([entry.signing_key], landing, now=lambda: clock.now().timestamp())
        self.receiver = AsgiClient(app)
        assert self.harness.sim.webhooks is not None
        self.harness.sim.webhooks.send = self._send

    def _send(self, url: str, headers: dict[str, str], body: bytes) -> int:
        assert self.receiver is not None
        response = self.receiver.post(urlsplit(url).path, content=body, headers=headers)
        self.statuses.append(response.status_code)
        return response.status_code

    def delivered(self) -> list[LandedDelivery]:
        assert self.harness.sim.webhooks is not None
        self.harness.sim.webhooks.flush()
        return list(iter_deliveries(self.landing_dir))

    def batch(self, pipeline: dlt.Pipeline | None = None) -> None:
        run_extraction(
            pipeline or self.pipeline,
            self.settings,
            now=self.store.clock.now,
            transport=self.harness.sim.transport(),
        )

    def marts(self, pipeline: dlt.Pipeline | None = None) -> dict[str, list[tuple[Any, ...]]]:
        target = pipeline or self.pipeline
        build_models(target, as_of=self.store.clock.now())
        tables: dict[str, list[tuple[Any, ...]]] = {}
        with target.sql_client() as client:
            for mart in MARTS:
                rows = client.execute_sql(f"select * from calendly_analytics.{mart}")
                tables[mart] = sorted(tuple(row) for row in rows)
        return tables

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.close()


def _booking(store: Store, email: str, start: datetime) -> dict[str, Any]:
    event_type = next(
        uuid
        for uuid, kind in store.event_types.items()
        if kind["active"] and kind["kind"] == "solo"
    )
    return mutations.book(
        store, event_type_uuid=event_type, start_time=start, email=email, name=email.split("@")[0]
    )


def _book_meetings_to_change(store: Store) -> dict[str, dict[str, Any]]:
    """Future meetings, loaded by the first batch run, that the webhooks will change."""
    now = store.clock.now()
    return {
        name: _booking(store, f"{name}@example.com", now + timedelta(days=4 + offset))
        for offset, name in enumerate(("canceled", "host_canceled", "moved"))
    }


def _start(store: Store, invitee: dict[str, Any]) -> datetime:
    return parse_ts(store.events[uuid_of(invitee["event"])]["start_time"])


def _every_kind_of_change(store: Store, meetings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Book, cancel, host-cancel and reschedule; return the new and the moved invitees."""
    booked = _booking(store, "fresh@example.com", store.clock.now() + timedelta(days=3))
    mutations.cancel_invitee(store, uuid_of(meetings["canceled"]["uri"]), reason="clash")
    mutations.cancel_event(store, uuid_of(meetings["host_canceled"]["event"]), reason="sick")
    moved = meetings["moved"]
    start = _start(store, moved) + timedelta(days=2)
    rescheduled = mutations.reschedule(store, uuid_of(moved["uri"]), new_start_time=start)
    return {"booked": booked, "rescheduled": rescheduled}


@pytest.fixture
def rigs(tmp_path: Path) -> Any:
    made: list[Rig] = []

    def make(store: Store, name: str) -> Rig:
        rig = Rig(tmp_path / name, store, name)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


@pytest.mark.slow
def test_every_kind_of_change_reaches_the_marts_through_webhooks_as_a_batch_run_would(
    tmp_path: Path, rigs: Any
) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = generate_organization(seed=3, size="tiny", now=now)
    attended = _booking(store, "held@example.com", now + timedelta(hours=1))
    unmarked = _booking(store, "unmarked@example.com", now + timedelta(hours=1, minutes=10))
    meetings = _book_meetings_to_change(store)
    rig = rigs(store, "with_webhooks")
    rig.batch()
    # the same backfill in a second warehouse that will only ever see batch runs
    batch_only = rig.harness.pipeline("batch_only")
    rig.batch(batch_only)
    rig.subscribe(tmp_path)

    store.clock.set(now + timedelta(hours=3))
    touched = _every_kind_of_change(store, meetings)
    no_show = mutations.mark_no_show(store, uuid_of(attended["uri"]))
    removed = mutations.mark_no_show(store, uuid_of(unmarked["uri"]))
    mutations.unmark_no_show(store, uuid_of(removed["uri"]))
    changed_type = next(iter(store.event_types))
    event_type_mutations.update_event_type(store, changed_type, name="Renamed by webhook")
    delivered = rig.delivered()
    assert set(rig.statuses) == {200}
    assert {d.event for d in delivered} >= {
        "invitee.created",
        "invitee.canceled",
        "invitee_no_show.created",
        "invitee_no_show.deleted",
        "event_type.updated",
    }

    summary = merge_landed_webhooks(rig.pipeline, rig.settings, now=store.clock.now)
    assert summary.row_counts["webhook_events"] == (len(delivered), 0)
    # the raw tables say what Calendly says, without one request to it
    assert_matches_store(rig.pipeline, store, ("scheduled_events", "invitees"))
    with rig.pipeline.sql_client() as client:
        (name,) = client.execute_sql(
            "select name from calendly.event_types where uri = %s",
            store.event_types[changed_type]["uri"],
        )[0]
        assert name == "Renamed by webhook"
        (marked,) = client.execute_sql(
            "select no_show__uri from calendly.invitees where uri = %s", attended["uri"]
        )[0]
        assert marked == no_show["uri"]
    # ... and the marts equal the simulator's ground truth
    after_webhooks = rig.marts()
    truth = compute_ground_truth(store, as_of=store.clock.now())
    assert len(after_webhooks["fct_bookings"]) == len(truth.bookings)
    outcomes = {row["invitee_uri"]: row["outcome"] for row in truth.bookings}
    assert outcomes[meetings["canceled"]["uri"]] == "canceled"
    assert outcomes[meetings["host_canceled"]["uri"]] == "canceled"
    assert outcomes[touched["rescheduled"]["uri"]] == "upcoming"
    assert outcomes[touched["booked"]["uri"]] == "upcoming"
    assert outcomes[attended["uri"]] == "no_show"
    assert outcomes[unmarked["uri"]] == "completed"
    assert after_webhooks["fct_bookings"] == _truth_rows(rig, truth)

    # webhooks + one batch run == one batch run alone
    rig.batch()
    rig.batch(batch_only)
    assert rig.marts() == rig.marts(batch_only)
    assert rig.marts() == after_webhooks
    assert_matches_store(rig.pipeline, store, ("scheduled_events", "invitees"))


def test_a_no_show_marked_20_days_late_reaches_the_marts_through_the_webhook(
    tmp_path: Path, rigs: Any
) -> None:
    then = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    store = generate_organization(seed=3, size="tiny", now=then)
    late = _booking(store, "late@example.com", then + timedelta(hours=1))
    ancient = _booking(store, "ancient@example.com", then + timedelta(hours=2))
    rig = rigs(store, "late")
    store.clock.set(then + timedelta(days=1))
    rig.batch()  # reads both meetings, held, no no-show yet
    rig.subscribe(tmp_path)

    # 20 days after the meeting: no recheck is due (14 d passed, 30 d not yet)
    store.clock.set(then + timedelta(days=20, hours=3))
    mark = mutations.mark_no_show(store, uuid_of(late["uri"]))
    rig.delivered()
    assert main_load(rig) == 0
    assert _outcome(rig, late["uri"]) == "no_show"
    rig.batch()  # a batch run that does not re-read the meeting keeps the webhook's state
    assert _outcome(rig, late["uri"]) == "no_show"
    assert _loaded(rig, late["uri"]) == mark["uri"]

    # 80 days after: outside every re-read window, and past the last recheck
    store.clock.set(then + timedelta(days=80))
    mark = mutations.mark_no_show(store, uuid_of(ancient["uri"]))
    rig.delivered()
    merge_landed_webhooks(rig.pipeline, rig.settings, now=store.clock.now)
    assert _outcome(rig, ancient["uri"]) == "no_show"
    rig.batch()
    assert _loaded(rig, ancient["uri"]) == mark["uri"]


def _truth_rows(rig: Rig, truth: Any) -> list[tuple[Any, ...]]:
    """The ground truth's fct_bookings in the warehouse's column order, as sorted tuples."""
    with rig.pipeline.sql_client() as client:
        columns = [
            row[0]
            for row in client.execute_sql(
                "select column_name from information_schema.columns where table_schema ="
                " 'calendly_analytics' and table_name = 'fct_bookings' order by ordinal_position"
            )
        ]
    return sorted(tuple(row[column] for column in columns) for row in truth.bookings)


def main_load(rig: Rig) -> int:
    """``calendly-elt webhooks load`` on the rig's warehouse, with models."""
    return main(
        ["webhooks", "load", "--landing-dir", str(rig.landing_dir), "--duckdb", str(rig.database)]
    )


def _outcome(rig: Rig, booking_id: str) -> str:
    build_models(rig.pipeline, as_of=rig.store.clock.now())
    with rig.pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select outcome from calendly_analytics.fct_bookings where booking_id = %s", booking_id
        )
    return str(rows[0][0])


def _loaded(rig: Rig, invitee_uri: str) -> str | None:
    with rig.pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select no_show__uri from calendly.invitees where uri = %s", invitee_uri
        )
    return rows[0][0] if rows else None


def _delivery(event: str, created: datetime, payload: dict[str, Any]) -> LandedDelivery:
    body = {"event": event, "created_at": created.isoformat(), "payload": payload}
    return LandedDelivery(f"id-{event}-{created}", created, event, created, payload, body, "{}")


def test_the_merge_rule_a_batch_read_after_the_delivery_wins() -> None:
    read_at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    event_uri = "https://api.calendly.com/scheduled_events/E1"
    invitee = {"uri": f"{event_uri}/invitees/I1", "event": event_uri, "status": "canceled"}
    known = KnownData(
        events={event_uri: KnownEvent(read_at, read_at, ("fp",), invitees_read_at=read_at)}
    )
    older = _delivery("invitee.canceled", read_at - timedelta(minutes=1), invitee)
    newer = _delivery("invitee.canceled", read_at + timedelta(minutes=1), invitee)
    unknown = _delivery("invitee.rescheduled", read_at + timedelta(hours=1), invitee)
    assert not plan_merge([older], known, None).rows
    assert plan_merge([older], known, None).skipped_older == 1
    plan = plan_merge([newer, older, unknown], known, None)
    assert list(plan.rows) == ["invitees"]
    assert plan.rows["invitees"][invitee["uri"]]["status"] == "canceled"
    # of two deliveries for one invitee, the last created wins, whatever the landing order
    marked = _delivery(
        "invitee_no_show.created",
        read_at + timedelta(hours=2),
        {**invitee, "status": "active", "no_show": {"uri": "N1"}},
    )
    plan = plan_merge([marked, newer], known, None)
    assert plan.rows["invitees"][invitee["uri"]]["no_show"] == {"uri": "N1"}
    # event types: newer than the last successful run (which read them all)
    event_type = _delivery(
        "event_type.updated", read_at, {"uri": "https://api.calendly.com/event_types/T1"}
    )
    assert not plan_merge([event_type], known, read_at).rows
    assert "event_types" in plan_merge([event_type], known, read_at - timedelta(1)).rows


def test_webhooks_load_needs_no_credentials_and_an_empty_landing_dir_is_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CALENDLY_ACCESS_TOKEN", "CALENDLY_CLIENT_ID", "CALENDLY_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["webhooks", "load", "--duckdb", "org.duckdb", "--skip-models"]) == 0
    assert "0 deliveries loaded" in capsys.readouterr().out
