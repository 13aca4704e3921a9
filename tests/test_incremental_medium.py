"""On ``medium``, after one simulated day, an incremental run costs <= 20% of a full re-read.

The organization is loaded from 45 days back (to keep the suite fast; the
incremental range starts 30 days back, inside it), one day of activity is
simulated, then one incremental run is compared with a full re-read of the
same windows (``backfill --since`` the incremental run's range start): the
requests, and the loaded data, which must be identical (and equal the
simulator).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from source_harness import SourceHarness, diff_trees, expected_tables, loaded_tree

from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.store import Store, parse_ts

TABLES = ("scheduled_events", "invitees")


@pytest.mark.slow
def test_incremental_run_after_a_day_costs_a_fifth_of_a_full_reread(
    medium_store: Store, tmp_path: Path
) -> None:
    store = medium_store
    harness = SourceHarness(store, tmp_path)
    backfill_start = store.clock.now() - timedelta(days=45)
    settings = harness.settings(start_date=backfill_start.isoformat(), checkpoint_events=100_000)
    pipeline = harness.pipeline()
    harness.run(pipeline, settings=settings)

    day = simulate_day(store, seed=11)
    assert day.touched_events > 100

    incremental = harness.run(pipeline, settings=settings)
    after_incremental = {table: loaded_tree(pipeline, table) for table in TABLES}
    range_start = datetime.fromisoformat(
        pipeline.state["sources"]["calendly"]["history"][-1]["range_start"]
    )
    full = harness.run(pipeline, settings=settings, since=range_start)

    assert incremental.kind == "incremental"
    assert full.kind == "since"
    assert full.windows == incremental.windows
    assert incremental.requests <= 0.2 * full.requests, (incremental.requests, full.requests)
    assert incremental.invitee_calls < full.invitee_calls == full.events
    for table in TABLES:
        assert loaded_tree(pipeline, table) == after_incremental[table], table
    # bookings beyond the horizon (now + 365 days) are read once they come within it
    horizon = store.clock.now() + timedelta(days=365)
    expected = _expected_between(store, backfill_start, horizon)
    for table in TABLES:
        assert not diff_trees(expected[table], after_incremental[table]), table


def _expected_between(store: Store, start: datetime, end: datetime) -> dict[str, dict]:
    expected = expected_tables(store)
    events = {
        uri: tree
        for uri, tree in expected["scheduled_events"].items()
        if start <= parse_ts(store.events[uri.rsplit("/", 1)[-1]]["start_time"]) < end
    }
    invitees = {
        uri: tree for uri, tree in expected["invitees"].items() if tree["row"]["event"] in events
    }
    return {"scheduled_events": events, "invitees": invitees}
