"""Benchmark: requests and time of a full load vs an incremental run on `medium`.

Loads the medium organization (seed 7) through the real source and runner
over the in-process simulator (no rate limit, no injected latency), simulates
one day of activity, then times one incremental run and a full re-read of the
same windows (``backfill --since`` the incremental range start). Writes
``bench/results/extraction.json`` and appends a line to ``bench/RESULTS.md``.

    python -m bench.extraction [--size medium] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.runner import RunSummary, make_pipeline, run_extraction
from calendly_elt.simulator import SimConfig, Simulator
from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.generator import generate_organization

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "extraction.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
UNLIMITED = 10**9


def _show_progress(update: Any) -> None:
    if update.windows_done % 5 == 0 or update.windows_done == update.windows_total:
        sys.stderr.write(
            f"{update.kind} {update.windows_done}/{update.windows_total}: "
            f"{update.events} events, {update.requests} requests\n"
        )


def _figures(summary: RunSummary, seconds: float) -> dict[str, Any]:
    return {
        "kind": summary.kind,
        "windows": summary.windows,
        "events": summary.events,
        "invitee_calls": summary.invitee_calls,
        "requests": summary.requests,
        "packages": summary.packages,
        "seconds": round(seconds, 1),
    }


def run(size: str, seed: int) -> dict[str, Any]:
    store = generate_organization(seed=seed, size=size)
    simulator = Simulator(store, SimConfig(apply_delays=False, requests_per_minute=UNLIMITED))
    settings = resolve_settings(access_token=simulator.admin_token, requests_per_minute=UNLIMITED)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        pipeline = make_pipeline(duckdb_path=Path(folder) / "bench.duckdb")

        def timed(name: str, **options: Any) -> None:
            started = time.perf_counter()
            summary = run_extraction(
                pipeline,
                settings,
                now=store.clock.now,
                transport=simulator.transport(),
                progress=_show_progress,
                **options,
            )
            figures[name] = _figures(summary, time.perf_counter() - started)

        timed("full_load")
        day = simulate_day(store, seed=11)
        timed("incremental_after_a_day")
        history = pipeline.state["sources"]["calendly"]["history"]
        timed("full_reread_same_windows", since=datetime.fromisoformat(history[-1]["range_start"]))
    ratio = (
        figures["incremental_after_a_day"]["requests"]
        / figures["full_reread_same_windows"]["requests"]
    )
    return {
        "benchmark": "extraction",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "organization": {"size": size, "seed": seed, "events": len(store.events)},
        "day": {"touched_events": day.touched_events},
        **figures,
        "incremental_request_ratio": round(ratio, 3),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"load avg {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
    }


def record(result: dict[str, Any]) -> None:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    full, inc = result["full_load"], result["incremental_after_a_day"]
    reread = result["full_reread_same_windows"]
    line = (
        f"- {result['recorded_at']} extraction: {result['organization']['size']} org: full load "
        f"{full['requests']} requests {full['seconds']}s; after a day, incremental "
        f"{inc['requests']} requests {inc['seconds']}s vs full re-read of the same windows "
        f"{reread['requests']} requests {reread['seconds']}s "
        f"(ratio {result['incremental_request_ratio']}; {result['machine']})\n"
    )
    with RESULTS_MD.open("a", encoding="utf-8") as results:
        results.write(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    result = run(args.size, args.seed)
    record(result)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
