"""The soak, CI variant: a month of activity under faults and kills, nothing lost, nothing wedged.

``bench/soak.py`` plays the scenario (its docstring says what happens on which
day); this runs it on ``small`` for 18 simulated days (the long variant,
``python -m bench soak``, runs ``medium`` for 60) and asserts that every kind of
change, fault and kill happened, and that 0 rows diverged, by every cause.
Six days run without webhooks (late marks and deletions come through rechecks
and the sweep), the last 11 with them; every 5th day's run is SIGKILLed. 429
bursts come every 300 requests rather than 150: a lone request waits out a burst
of six 1-second resets, which the long variant measures; here it would be a
third of the time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dataclasses import replace  # noqa: E402

from bench.soak import Soak, SoakConfig, SoakReport  # noqa: E402

DAYS = 18


@pytest.mark.slow
def test_weeks_of_activity_under_faults_and_kills_end_equal_to_the_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SoakConfig(
        size="small", days=DAYS, kill_every=5, backoff_base=0.05, folder=tmp_path / "soak"
    )
    config = replace(config, faults=replace(config.faults, burst_every=300))
    assert config.webhook_day == 7  # days 1-6: no webhooks, rechecks and the sweep alone
    started = time.monotonic()
    report = Soak(config, log=lambda line: None).run()
    with capsys.disabled():
        print("\n" + "\n".join(report.lines()) + f"\nwall {time.monotonic() - started:.0f} s")

    assert report.failed_runs == []
    assert report.quarantined_runs == [config.bad_day]  # that run exits 4, the next one 0
    assert report.runs_killed >= 2  # of the 3 kill days (5, 10, 15); a run may end first
    assert report.hourly_runs >= 3
    for kind in ("book", "cancel_invitee", "cancel_host", "reschedule", "mark", "data_deletion"):
        assert report.mutations[kind] > 0, kind
    for fault in ("429", "5xx", "dropped_connection", "slow_response", "access_token_expired"):
        assert report.faults[fault] > 0, fault
    assert set(report.webhook_deliveries) == {200} and report.webhook_deliveries[200] > 0
    for table in ("scheduled_events", "invitees", "mart:fct_bookings", "mart:metrics_weekly"):
        assert report.rows_compared[table] > 0, table
    assert report.diverged == 0, (dict(report.rows_diverged), report.examples)


def test_the_report_writes_every_count_as_json() -> None:
    """The first 60-day soak finished with 0 diverged and then failed to write its JSON:
    ``asdict`` rebuilt each Counter from its (key, count) pairs."""
    import json
    from collections import Counter

    report = SoakReport(
        mutations=Counter({"book": 8946, "mark": 591}),
        webhook_deliveries=Counter({200: 3575}),
        rows_compared=Counter({"invitees": 34324, "mart:fct_bookings": 29830}),
        rows_diverged=Counter({"invitees:no_show": 2}),
        quarantined_runs=[30],
    )
    document = json.loads(json.dumps(report.as_dict()))
    assert document["mutations"] == {"book": 8946, "mark": 591}
    assert document["webhook_deliveries"] == {"200": 3575}
    assert document["rows_compared"] == {"invitees": 34324, "mart:fct_bookings": 29830}
    assert document["rows_diverged"] == {"invitees:no_show": 2}
    assert document["rows_diverged_total"] == 2 and document["quarantined_runs"] == [30]
