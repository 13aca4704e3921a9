"""``python -m bench compare``: our pipeline and dlt's ``rest_api`` source, side by side.

For each organization size, one simulator is served on 127.0.0.1 with a
latency (default 50 ms +- 10 ms a request) and a rate limit (default
6,000/min). Each side runs in its own process (``bench.sides``): a full
backfill of the organization, then - after one simulated day - an incremental
run. Requests (by route, 429s) are counted at the simulator, peak RSS and CPU
are the child's own (``os.wait4``), and the loaded rows are checked against the
simulator's state (``bench.capture``). Results go to
``bench/results/compare_<size>.json`` and the table ``bench/COMPARISON.md``.

    python -m bench compare [--size small --size medium] [--large]
        [--baseline-budget 900] [--latency-ms 50] [--jitter-ms 10] [--rpm 6000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.capture import LoadedState, captured_changes, state_agreement
from bench.comparison_table import write_table
from bench.measure import CountingSimulator, n_min, run_side
from bench.profile_summary import read_profile, summary_lines
from bench.sides import BASELINE_DATASET, DUCKDB_FILE, OURS_DATASET, rows_per_table
from calendly_elt.simulator import FaultConfig, SimConfig
from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.generator import generate_organization
from calendly_elt.simulator.store import Store

BENCH_DIR = Path(__file__).resolve().parent
SIDES = ("ours", "baseline")
HISTORY = timedelta(days=600)  # the backfill start: before the generator's first meeting


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench compare", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        action="append",
        choices=["tiny", "small", "medium", "large"],
        help="organization size (repeatable; default: small and medium)",
    )
    parser.add_argument("--large", action="store_true", help="also run the large organization")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day-seed", type=int, default=11)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--rpm", type=int, default=6000, help="requests per minute allowed")
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds for one run of ours")
    parser.add_argument(
        "--baseline-budget",
        type=float,
        default=900.0,
        help="seconds for one baseline run; over it, it is stopped and recorded as not finished",
    )
    parser.add_argument(
        "--sides",
        choices=["both", "ours"],
        default="both",
        help="ours: run only our side and keep the baseline's runs from the size's existing "
        "results file (their recorded_at says when they were measured)",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        help="run our side under py-spy; raw profiles and their top lines go here",
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--table", type=Path, default=BENCH_DIR / "COMPARISON.md")
    args = parser.parse_args(argv)
    args.size = (args.size or ["small", "medium"]) + (["large"] if args.large else [])
    return args


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _side_arguments(side: str, base_url: str, store: Store, folder: Path, rpm: int) -> list[str]:
    now = store.clock.now()
    return [
        side,
        "--base-url",
        base_url,
        "--token",
        store.admin_token,
        "--organization",
        store.organization["uri"],
        "--since",
        (now - HISTORY).isoformat(),
        "--now",
        now.isoformat(),
        "--folder",
        str(folder),
        "--requests-per-minute",
        str(rpm),
    ]


def one_run(
    sim: CountingSimulator,
    side: str,
    folder: Path,
    needed: int,
    args: argparse.Namespace,
    base_url: str,
) -> dict[str, Any]:
    """One side's run, with every figure measured from outside it."""
    sim.start_counting()
    load_before = _load()
    budget = args.baseline_budget if side == "baseline" else args.budget
    out = folder / f"run-{len(list(folder.glob('run-*.json')))}.json"
    profile = _profile_path(args, side, folder)
    arguments = _side_arguments(side, base_url, sim.store, folder, args.rpm)
    run = run_side(arguments, out, budget, profile)
    if profile is not None and profile.exists():
        _summarise_profile(profile, args.profile_dir)
    floor = needed / (args.rpm / 60)
    by_route = dict(sorted(sim.stats.by_route.items()))
    figures = {
        "finished": run.finished,
        "budget_seconds": budget,
        "wall_seconds": run.wall_seconds,
        "requests": sum(by_route.values()),
        "requests_by_route": by_route,
        "responses_429": sim.statuses.get(429, 0),
        "pacing": sim.pacing(),
        "n_min": needed,
        "floor_seconds": round(floor, 2),
        "efficiency": round(floor / run.wall_seconds, 3) if run.finished else None,
        "peak_rss_mb": run.peak_rss_mb,
        "cpu_seconds": run.cpu_seconds,
        "load_avg_before": load_before,
        "load_avg_after": _load(),
        **run.child,
    }
    if run.finished:
        dataset = OURS_DATASET if side == "ours" else BASELINE_DATASET
        figures["rows"] = rows_per_table(folder / DUCKDB_FILE, dataset)
    else:
        figures["note"] = f"did not finish within {budget:.0f} s (exit {run.returncode})"
    return figures


def _profile_path(args: argparse.Namespace, side: str, folder: Path) -> Path | None:
    if args.profile_dir is None or side != "ours":
        return None
    args.profile_dir.mkdir(parents=True, exist_ok=True)
    runs = len(list(folder.glob("run-*.json")))
    return args.profile_dir / f"{folder.name}-{'full' if runs == 0 else 'incremental'}.raw"


def _summarise_profile(profile: Path, folder: Path) -> None:
    lines = summary_lines(read_profile(profile), top=25)
    profile.with_suffix(".txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _loaded(folder: Path, side: str) -> LoadedState:
    dataset = OURS_DATASET if side == "ours" else BASELINE_DATASET
    return LoadedState(folder / DUCKDB_FILE, dataset, side)


def compare_size(size: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Both sides' full and incremental runs on one organization."""
    store = generate_organization(seed=args.seed, size=size)
    organization = {
        "size": size,
        "seed": args.seed,
        "events": len(store.events),
        "invitees": len(store.invitees),
    }
    faults = FaultConfig(
        seed=args.seed, latency_mean_ms=args.latency_ms, latency_jitter_ms=args.jitter_ms
    )
    sim = CountingSimulator(store, SimConfig(requests_per_minute=args.rpm, faults=faults))
    sides = SIDES if args.sides == "both" else ("ours",)
    folders = {side: scratch / f"{size}-{side}" for side in sides}
    runs: dict[str, dict[str, Any]] = {"full": {}, "incremental": {}}
    with sim.serve() as base_url:
        needed = n_min(store, len(store.events))
        for side in sides:
            folders[side].mkdir(parents=True)
            runs["full"][side] = one_run(sim, side, folders[side], needed, args, base_url)
            if runs["full"][side]["finished"]:
                runs["full"][side]["agreement"] = state_agreement(
                    store, _loaded(folders[side], side)
                )
        day = simulate_day(store, seed=args.day_seed)
        needed = n_min(store, day.touched_events)
        for side in sides:
            if not runs["full"][side]["finished"]:
                runs["incremental"][side] = {"finished": False, "note": "not run: no full load"}
                continue
            run = one_run(sim, side, folders[side], needed, args, base_url)
            if run["finished"]:
                run["captured"] = captured_changes(store, day.changes, _loaded(folders[side], side))
            runs["incremental"][side] = run
    return _result(organization, args, day.as_dict(), runs)


def _result(
    organization: dict[str, Any],
    args: argparse.Namespace,
    day: dict[str, Any],
    runs: dict[str, Any],
) -> dict[str, Any]:
    return {
        "benchmark": "compare",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "organization": organization,
        "setup": {
            "latency_ms": args.latency_ms,
            "jitter_ms": args.jitter_ms,
            "requests_per_minute": args.rpm,
            "day_seed": args.day_seed,
        },
        "day": day,
        "runs": runs,
        "machine": {
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "note": "wall times are noisy when the load average exceeds the cores",
        },
    }


def keep_baseline_runs(result: dict[str, Any], path: Path) -> None:
    """Carry the baseline's runs over from the size's last results file (``--sides ours``).

    The baseline's code did not change, only ours: its runs (hours on
    ``medium``) are kept with the time they were recorded at.
    """
    if not path.exists():
        return
    previous = json.loads(path.read_text(encoding="utf-8"))
    for kind, runs in result["runs"].items():
        kept = previous.get("runs", {}).get(kind, {}).get("baseline")
        if kept is not None:
            runs["baseline"] = {**kept, "recorded_at": previous.get("recorded_at")}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as scratch:
        for size in args.size:
            sys.stderr.write(f"compare: {size} organization\n")
            result = compare_size(size, args, Path(scratch))
            path = args.results_dir / f"compare_{size}.json"
            if args.sides == "ours":
                keep_baseline_runs(result, path)
            path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_table(args.results_dir, args.table)
    sys.stdout.write(f"results in {args.results_dir}, table in {args.table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
