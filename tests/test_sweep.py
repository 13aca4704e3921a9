"""The weekly sweep: deletions older than the lookback, and bookings beyond the horizon.

Windows re-read by start time only see the last ``lookback_days``; a sweep
lists every window again (invitees only where the fingerprint changed), and
backfills and sweeps also read one open window beyond the horizon.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from source_harness import SourceHarness

from calendly_elt.calendly.helpers.windows import FAR_FUTURE, RunRequest, Window, plan_run
from calendly_elt.models.runner import build_models
from calendly_elt.simulator import generate_organization, mutations
from calendly_elt.simulator.store import Store, uuid_of

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _request(now: datetime, every: int = 7) -> RunRequest:
    return RunRequest(
        now=now, start_date=None, lookback_days=30, horizon_days=365, sweep_every_days=every
    )


def test_a_sweep_is_planned_every_sweep_every_days() -> None:
    first = NOW - timedelta(days=700)
    plan = plan_run(_request(NOW), backfill_start=first, last_success_at=NOW - timedelta(days=1),
                    last_sweep_at=NOW - timedelta(days=6))  # fmt: skip
    # incrementals list the open window beyond the horizon too (one cheap list)
    assert plan.kind == "incremental" and plan.beyond_horizon
    plan = plan_run(_request(NOW), backfill_start=first, last_success_at=NOW - timedelta(days=1),
                    last_sweep_at=NOW - timedelta(days=7))  # fmt: skip
    assert (plan.kind, plan.range_start, plan.refetch_all, plan.beyond_horizon) == (
        "sweep",
        first,
        False,
        True,
    )
    never = plan_run(_request(NOW, every=0), backfill_start=first,
                     last_success_at=NOW - timedelta(days=1), last_sweep_at=first)  # fmt: skip
    assert never.kind == "incremental"
    assert plan_run(_request(NOW), backfill_start=None, last_success_at=None).beyond_horizon


def test_the_open_window_asks_for_everything_after_the_horizon() -> None:
    window = Window(NOW, FAR_FUTURE)
    assert window.query() == {"min_start_time": "2026-03-02T09:00:00.000000Z"}
    assert window.contains(NOW + timedelta(days=5000))
    assert str(window).endswith(", ...)")


def _book(store: Store, email: str, start: datetime) -> dict[str, Any]:
    kind = next(u for u, t in store.event_types.items() if t["active"] and t["kind"] == "solo")
    return mutations.book(store, event_type_uuid=kind, start_time=start, email=email,
                          name=email.split("@")[0])  # fmt: skip


def _row(pipeline: Any, table: str, uri: str, columns: str) -> tuple[Any, ...] | None:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"select {columns} from calendly.{table} where uri = %s", uri)
    return tuple(rows[0]) if rows else None


def test_a_sweep_finds_old_deletions_and_far_bookings_keep_their_chain(tmp_path: Path) -> None:
    store = generate_organization(seed=3, size="tiny", now=NOW - timedelta(days=60))
    old = _book(store, "forgotten@example.com", NOW - timedelta(days=59))
    far = _book(store, "planner@example.com", NOW + timedelta(days=400))  # beyond the horizon
    store.clock.set(NOW)
    harness = SourceHarness(store, tmp_path)
    pipeline = harness.pipeline()
    backfill = harness.run(pipeline)
    assert backfill.kind == "backfill"
    assert _row(pipeline, "invitees", far["uri"], "email") == ("planner@example.com",)

    # a data-compliance deletion of a meeting 59 days old: outside every incremental window
    assert mutations.delete_invitee_data(store, ["forgotten@example.com"]) == 1
    store.clock.set(NOW + timedelta(days=1))
    assert harness.run(pipeline).kind == "incremental"
    assert _row(pipeline, "scheduled_events", old["event"], "is_deleted") == (False,)

    # the far booking moves into the horizon
    moved = mutations.reschedule(
        store, uuid_of(far["uri"]), new_start_time=NOW + timedelta(days=40)
    )
    store.clock.set(NOW + timedelta(days=7))
    sweep = harness.run(pipeline)
    assert sweep.kind == "sweep" and sweep.invitee_calls < sweep.events
    assert _row(pipeline, "scheduled_events", old["event"], "is_deleted") == (True,)
    assert _row(pipeline, "invitees", old["uri"], "is_deleted") == (True,)
    assert harness.run(pipeline).kind == "incremental"  # the next sweep is a week away

    build_models(pipeline, as_of=store.clock.now())
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select booking_id, invitee_uri, reschedule_count from calendly_analytics.fct_bookings"
            " where booking_id = %s",
            far["uri"],
        )
    # the chain starts at the booking made beyond the horizon, not at the reschedule
    assert [tuple(row) for row in rows] == [(far["uri"], moved["uri"], 1)]
