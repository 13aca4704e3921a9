"""On ``medium``, after one simulated day, an incremental run costs about a third of a re-read.

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

from calendly_elt.calendly.helpers.no_shows import DEFAULT_NO_SHOW_RECHECKS, parse_recheck_ages
from calendly_elt.calendly.helpers.windows import FAR_FUTURE
from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.store import Store, parse_ts

TABLES = ("scheduled_events", "invitees")


@pytest.mark.slow
def test_incremental_run_after_a_day_costs_a_third_of_a_full_reread(
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
    # a third, not a fifth, since no-shows are rechecked daily through each meeting's first
    # week: each age passing during the day costs that day's meetings one invitee call
    assert incremental.requests <= 0.35 * full.requests, (incremental.requests, full.requests)
    assert incremental.invitee_calls < full.invitee_calls == full.events
    backfill_at = datetime.fromisoformat(
        pipeline.state["sources"]["calendly"]["history"][-3]["started_at"]
    )
    due = _rechecks_due(store, backfill_at, store.clock.now())
    assert incremental.invitee_calls <= day.touched_events + due, (incremental, due)
    # a no-show marked late during the day waits for its meeting's next recheck age
    # (tests/test_no_show_rechecks.py): compare everything else
    for table in TABLES:
        assert _without_no_shows(loaded_tree(pipeline, table)) == _without_no_shows(
            after_incremental[table]
        ), table
    # every run also lists the open window beyond the horizon: bookings made far ahead arrive
    expected = _expected_between(store, backfill_start, FAR_FUTURE)
    for table in TABLES:
        assert not diff_trees(
            _without_no_shows(expected[table]), _without_no_shows(after_incremental[table])
        ), table


NO_SHOW_COLUMNS = ("no_show__uri", "no_show__created_at")


def _without_no_shows(tree: dict) -> dict:
    """The same rows without their no-show columns."""
    return {
        uri: {
            **node,
            "row": {k: v for k, v in node["row"].items() if k not in NO_SHOW_COLUMNS},
        }
        for uri, node in tree.items()
    }


RECHECK_AGES = parse_recheck_ages(DEFAULT_NO_SHOW_RECHECKS)


def _rechecks_due(store: Store, read_at: datetime, now: datetime) -> int:
    """Meetings (all read at ``read_at``) one of whose recheck ages passes by ``now``."""
    return sum(
        1
        for event in store.events.values()
        if any(read_at < parse_ts(event["end_time"]) + age <= now for age in RECHECK_AGES)
    )


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
