"""Smoke test of the side-by-side benchmark: ``python -m bench compare`` on ``tiny``.

No timing thresholds: every figure must be present and plausible.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
INVITEES = "GET /scheduled_events/{uuid}/invitees"
KINDS, SIDES = ("full", "incremental"), ("ours", "baseline")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("compare")
    command = [
        sys.executable, "-m", "bench", "compare", "--size", "tiny",
        "--latency-ms", "1", "--jitter-ms", "1", "--baseline-budget", "600",
        "--results-dir", str(folder / "results"), "--table", str(folder / "COMPARISON.md"),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, timeout=900)
    result = json.loads((folder / "results" / "compare_tiny.json").read_text(encoding="utf-8"))
    return result, (folder / "COMPARISON.md").read_text(encoding="utf-8")


def test_every_run_finished_with_positive_counts(comparison) -> None:
    result, _ = comparison
    for kind in KINDS:
        for side in SIDES:
            run = result["runs"][kind][side]
            assert run["finished"] is True, (kind, side, run.get("note"))
            assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_rss_mb"] > 0
            assert run["requests"] == sum(run["requests_by_route"].values()) > 0
            assert run["responses_429"] == 0  # 6,000/min is far above what tiny needs
            assert run["n_min"] > 0 and run["floor_seconds"] > 0
            assert 0 < run["efficiency"] <= 1.5
            assert run["time_split"]["extract"] > 0 and run["time_split"]["load"] > 0
            assert run["rows"]["invitees"] > 0
            assert {"load_avg_before", "load_avg_after"} <= run.keys()
            pacing = run["pacing"]
            assert 0 < pacing["span_seconds"] <= run["wall_seconds"]
            # the rate is rounded to 0.1/s: on a run of a few requests that is most of the error
            rounding = 0.05 * pacing["span_seconds"] + 0.01 * pacing["rate_per_second"]
            assert pacing["rate_per_second"] * pacing["span_seconds"] == pytest.approx(
                run["requests"] - 1, rel=0.02, abs=rounding
            )
            assert 0 <= pacing["gap_seconds"] <= pacing["span_seconds"]
    assert result["runs"]["full"]["ours"]["time_split"]["models"] > 0


def test_full_loads_read_every_event_and_agree_with_the_store(comparison) -> None:
    result, _ = comparison
    events = result["organization"]["events"]
    for side in SIDES:
        full = result["runs"]["full"][side]
        assert full["requests_by_route"][INVITEES] == events
        assert full["agreement"] == {"events": 1.0, "invitees": 1.0}
    ours = result["runs"]["full"]["ours"]
    assert ours["requests"] >= ours["n_min"]
    assert ours["rows"]["scheduled_events"] == result["runs"]["full"]["baseline"]["rows"]["events"]
    assert ours["client_requests"] == ours["requests"]


def test_captured_shares_are_shares_of_the_days_changes(comparison) -> None:
    result, _ = comparison
    day = result["day"]
    changes = (
        day["bookings"] + day["group_joins"] + day["invitee_cancels"] + day["host_cancels"]
        + day["reschedules"] + day["no_shows_marked"] + day["no_shows_unmarked"]
    )  # fmt: skip
    for side in SIDES:
        captured = result["runs"]["incremental"][side]["captured"]
        assert captured["all"]["changes"] == changes > 0
        for entry in captured.values():
            assert 0 <= entry["captured"] <= entry["changes"]
            assert 0.0 <= entry["share"] <= 1.0
    ours = result["runs"]["incremental"]["ours"]
    assert ours["requests"] < result["runs"]["full"]["ours"]["requests"]


def test_the_table_shows_every_figure(comparison) -> None:
    result, table = comparison
    assert f"## tiny ({result['organization']['events']:,} events" in table
    for label in ("wall s", "requests", "429 responses", "N_min", "floor s", "efficiency",
                  "peak RSS MB", "CPU s", "requests/s from first to last", "extract s",
                  "normalize s", "load s", "models s",
                  "day's changes captured", "no-shows marked 1-7 d late"):  # fmt: skip
        assert f"| {label} |" in table or f"| - {label} |" in table, label
    assert "| finished | yes | yes | yes | yes |" in table


def test_rerunning_our_side_keeps_the_baselines_runs_with_their_date(tmp_path: Path) -> None:
    from bench.compare import keep_baseline_runs

    previous = {
        "recorded_at": "2026-12-01T22:42:16+00:00",
        "runs": {"full": {"ours": {"wall_seconds": 9.0}, "baseline": {"wall_seconds": 99.0}}},
    }
    path = tmp_path / "compare_small.json"
    path.write_text(json.dumps(previous), encoding="utf-8")
    fresh = {"runs": {"full": {"ours": {"wall_seconds": 5.0}}, "incremental": {"ours": {}}}}
    keep_baseline_runs(fresh, path)
    assert fresh["runs"]["full"]["ours"] == {"wall_seconds": 5.0}  # ours: the new run
    assert fresh["runs"]["full"]["baseline"] == {
        "wall_seconds": 99.0,
        "recorded_at": "2026-12-01T22:42:16+00:00",
    }
    assert "baseline" not in fresh["runs"]["incremental"]  # nothing recorded: nothing kept


@pytest.mark.parametrize(
    ("captured", "changes", "shown"),
    [
        (940, 941, "99.9% (940/941)"),
        (941, 941, "100% (941/941)"),
        (0, 1, "0% (0/1)"),
        (1, 3, "33% (1/3)"),
    ],
)
def test_a_shortfall_never_reads_as_100_percent(captured: int, changes: int, shown: str) -> None:
    from bench.comparison_table import _share

    entry = {"captured": captured, "changes": changes, "share": captured / changes}
    assert _share({"all": entry}, "all") == shown
