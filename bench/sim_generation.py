"""Benchmark: time and peak memory to generate each simulated organization size.

Each size runs in a fresh subprocess (so peak RSS is that size's alone):
``generate_organization(seed=7, size=...)`` is timed with ``perf_counter`` and
the process's peak resident memory is read from ``getrusage`` (``ru_maxrss``),
next to the RSS before generation (interpreter and imports). Writes
``bench/results/sim_generation.json`` and appends a line to ``bench/RESULTS.md``.

    python -m bench.sim_generation [--sizes small medium large] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "sim_generation.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
TARGET_SECONDS = {"small": 5.0, "medium": 20.0, "large": 120.0}
MEMORY_LIMIT_MB = 2048


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_one(size: str, seed: int) -> dict[str, object]:
    """Generate one organization in this process and report time and memory."""
    from calendly_elt.simulator.generator import generate_organization

    baseline = _maxrss_mb()
    started = time.perf_counter()
    store = generate_organization(seed=seed, size=size)
    seconds = time.perf_counter() - started
    return {
        "size": size,
        "seed": seed,
        "events": len(store.events),
        "invitees": len(store.invitees),
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(_maxrss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
    }


def measure_in_subprocess(size: str, seed: int) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.sim_generation", "--one", size, "--seed", str(seed)]
    output = subprocess.run(
        command, cwd=BENCH_DIR.parent, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run(sizes: list[str], seed: int) -> dict[str, object]:
    results = [measure_in_subprocess(size, seed) for size in sizes]
    for result in results:
        size = str(result["size"])
        result["within_target"] = bool(
            float(result["seconds"]) <= TARGET_SECONDS.get(size, float("inf"))  # type: ignore[arg-type]
            and float(result["peak_rss_mb"]) < MEMORY_LIMIT_MB  # type: ignore[arg-type]
        )
    return {
        "benchmark": "sim_generation",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }


def record(report: dict[str, object]) -> str:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    parts = [
        f"{r['size']} {r['events']} events/{r['invitees']} invitees "
        f"{r['seconds']}s, peak RSS {r['peak_rss_mb']} MB"
        for r in report["results"]  # type: ignore[attr-defined]
    ]
    line = (
        f"- {report['recorded_at']} sim_generation (seed 7, load avg "
        f"{report['load_average_1m']} on {os.cpu_count()} cores): " + "; ".join(parts)
    )
    with RESULTS_MD.open("a", encoding="utf-8") as results_md:
        results_md.write(line + "\n")
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        sys.stdout.write(json.dumps(measure_one(args.one, args.seed)) + "\n")
        return 0
    line = record(run(args.sizes, args.seed))
    sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
