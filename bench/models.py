"""Benchmark: build time of the SQL models on the `medium` simulated organization.

Loads the medium organization (seed 7) into a throwaway DuckDB file through the
real source over the in-process simulator, then times ``build_models`` (best
and median of a few builds). Writes ``bench/results/models.json`` and appends a
line to ``bench/RESULTS.md``.

    python -m bench.models [--size medium] [--builds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dlt

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.models.runner import build_models
from calendly_elt.runner import make_pipeline, run_extraction
from calendly_elt.simulator import SimConfig, Simulator
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "models.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
UNLIMITED = 10**9


def load_organization(folder: Path, size: str, seed: int) -> tuple[dlt.Pipeline, float]:
    store = generate_organization(seed=seed, size=size)
    simulator = Simulator(store, SimConfig(apply_delays=False, requests_per_minute=UNLIMITED))
    settings = resolve_settings(access_token=simulator.admin_token, requests_per_minute=UNLIMITED)
    pipeline = make_pipeline(duckdb_path=folder / "bench.duckdb", pipelines_dir=folder / "state")
    started = time.perf_counter()
    run_extraction(pipeline, settings, transport=simulator.transport(), now=simulator.clock.now)
    return pipeline, time.perf_counter() - started


def count_rows(pipeline: dlt.Pipeline, table: str) -> int:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"select count(*) from calendly_analytics.{table}")
    return int(rows[0][0]) if rows else 0


def run(size: str, seed: int, builds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        pipeline, load_seconds = load_organization(Path(folder), size, seed)
        timings = [build_models(pipeline, as_of=DEFAULT_NOW).seconds for _ in range(builds)]
        return {
            "benchmark": "models",
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "organization": {"size": size, "seed": seed},
            "bookings": count_rows(pipeline, "fct_bookings"),
            "meetings": count_rows(pipeline, "fct_meetings"),
            "builds": builds,
            "build_seconds_best": round(min(timings), 3),
            "build_seconds_median": round(statistics.median(timings), 3),
            "load_seconds": round(load_seconds, 1),
            "machine": f"{platform.machine()}, Python {platform.python_version()}",
        }


def record(result: dict[str, object]) -> None:
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    line = (
        f"- {result['recorded_at']} models: {result['organization']['size']} org "  # type: ignore[index]
        f"({result['bookings']} bookings, {result['meetings']} meetings): build "
        f"{result['build_seconds_median']}s median / {result['build_seconds_best']}s best "
        f"of {result['builds']} (DuckDB; load took {result['load_seconds']}s)\n"
    )
    with RESULTS_MD.open("a", encoding="utf-8") as results:
        results.write(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args.size, args.seed, args.builds)
    record(result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
