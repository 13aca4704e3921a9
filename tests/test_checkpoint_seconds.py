"""Checkpoints are due by elapsed time too: an interrupted slow run keeps most of its work.

At 50 requests per minute (Calendly's free plan) 500 events take about ten
minutes; a run interrupted after a few minutes used to keep nothing. The
rate limiter sleeps on a fake clock, so every request moves time on as the
real plan would, and the run's checkpoint clock is that same fake clock.
"""

from __future__ import annotations

import pytest
from fakes import FakeClock
from source_harness import SourceHarness, assert_matches_store, query

from calendly_elt.calendly import WindowProgress
from calendly_elt.calendly.config import resolve_settings
from calendly_elt.errors import ConfigError
from calendly_elt.runner import ExtractionError

FREE_PLAN = 50  # requests per minute
KILL_AFTER_WINDOWS = 12
WINDOWS = 38  # two years back, a year ahead, plus the open window beyond the horizon


class KilledError(RuntimeError):
    """Stands in for the process dying after a window."""


def _interrupted_run(harness: SourceHarness, **settings: int) -> tuple[int, list[float]]:
    """Run on the free plan's budget until window ``KILL_AFTER_WINDOWS``; what it kept."""
    clock = FakeClock(1000.0)
    harness.client_options = {"sleep": clock.sleep, "clock": clock}
    pipeline = harness.pipeline()
    times: list[float] = []

    def die_after_window(update: WindowProgress) -> None:
        times.append(clock())
        if update.windows_done == KILL_AFTER_WINDOWS:
            raise KilledError("process died")

    with pytest.raises(ExtractionError, match="process died"):
        harness.run(
            pipeline,
            settings=harness.settings(requests_per_minute=FREE_PLAN, **settings),
            progress=die_after_window,
            monotonic=clock,
        )
    run = pipeline.state.get("sources", {}).get("calendly", {}).get("run") or {}
    return run.get("windows_done", 0), times


def test_a_slow_run_interrupted_after_minutes_keeps_the_windows_checkpointed_by_time(
    small_harness: SourceHarness,
) -> None:
    kept, times = _interrupted_run(small_harness, checkpoint_events=500, checkpoint_seconds=60)

    minutes = (times[-1] - 1000.0) / 60
    # the free plan's pace: several minutes of work, all lost before (one CI run measured
    # exactly 4.0: how far the calls in flight run ahead of the windows varies)
    assert minutes >= 3
    loaded = query(small_harness.pipeline(), "select count(*) from calendly.scheduled_events")
    assert loaded[0][0] > 0
    # what was lost is at most a minute of windows after the last checkpoint, plus the one
    # being read when the process died (with 16 calls in flight a window can wait long for
    # its invitees, so "the last minute before the kill" is not the bound)
    assert 1 <= kept < KILL_AFTER_WINDOWS
    checkpointed_at = times[kept - 1]
    assert all(moment - checkpointed_at < 60 for moment in times[kept:-1]), (kept, times)

    # the resumed run does not re-read what was kept: one events request per window left
    small_harness.sim.stats.reset()
    small_harness.client_options = {}
    summary = small_harness.run(small_harness.pipeline())
    assert summary.kind == "backfill"
    assert small_harness.sim.stats["GET /scheduled_events"] == WINDOWS - kept
    assert_matches_store(small_harness.pipeline(), small_harness.store)


def test_by_event_count_alone_the_same_interrupt_keeps_nothing(
    small_harness: SourceHarness,
) -> None:
    # the guarantee above comes from checkpoint_seconds: a day between them is the old behaviour
    kept, _ = _interrupted_run(small_harness, checkpoint_events=500, checkpoint_seconds=86_400)
    assert kept == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "checkpoint_seconds must be at least 1, got 0"),
        (86_401, "checkpoint_seconds must be at most 86400, got 86401"),
        ("soon", "checkpoint_seconds must be a whole number"),
    ],
)
def test_checkpoint_seconds_out_of_range_is_a_config_error_naming_it(
    value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_settings(access_token="pat", checkpoint_seconds=value)


def test_checkpoint_seconds_defaults_to_a_minute_and_is_read_from_dlt_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_settings(access_token="pat").checkpoint_seconds == 60
    monkeypatch.setenv("SOURCES__CALENDLY__CHECKPOINT_SECONDS", "15")
    assert resolve_settings(access_token="pat").checkpoint_seconds == 15
