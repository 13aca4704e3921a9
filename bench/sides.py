"""One side of the comparison, one run, in its own process (so its RSS and CPU are its own).

    python -m bench.sides ours|baseline --base-url URL --token T --organization URI
        --since ISO --now ISO --folder DIR --out result.json

Runs our pipeline (``run_extraction``, then the models) or the ``rest_api``
baseline once against the served simulator, into a DuckDB file in ``DIR``
(the same folder for the full run and the incremental after it, so dlt's
state carries over), and writes what it measured to ``result.json``: the
time spent in dlt's extract, normalize and load steps (and our models),
rows per table, and our run's own summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb

OURS_DATASET, BASELINE_DATASET = "calendly", "calendly_rest_api"
DUCKDB_FILE = "side.duckdb"


def _time_steps(pipeline: dlt.Pipeline, split: dict[str, float]) -> None:
    """Wrap the pipeline's extract/normalize/load so their seconds add up in ``split``."""
    for step in ("extract", "normalize", "load"):
        original: Callable[..., Any] = getattr(pipeline, step)

        def timed(*args: Any, _step: str = step, _original: Any = original, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                split[_step] += time.perf_counter() - started

        setattr(pipeline, step, timed)


def own_peak_rss_mb() -> float | None:
    """This process's own peak RSS (``VmHWM``), in MB; None where /proc is not there.

    Not ``ru_maxrss``: Linux carries the forking parent's high-water mark over
    ``execve`` into the child's ``ru_maxrss``, and the harness's parent holds the
    simulated organization (650-800 MB on ``large``), which showed as our peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def rows_per_table(duckdb_path: Path, dataset: str) -> dict[str, int]:
    """Rows of every table of ``dataset`` (dlt's own tables left out).

    Counted by the parent after the side's process ended: opening the file
    in the measured process (replaying its WAL, DuckDB's default memory limit)
    added up to 370 MB to our run's peak RSS on ``large``.
    """
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        names = connection.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_name not like '\\_dlt%' escape '\\' order by 1",
            [dataset],
        ).fetchall()
        counts = {}
        for (name,) in names:
            (count,) = connection.execute(f'select count(*) from "{dataset}"."{name}"').fetchone()
            counts[name] = int(count)
        return counts


def run_ours(args: argparse.Namespace, split: dict[str, float]) -> dict[str, Any]:
    from calendly_elt.calendly.config import resolve_settings
    from calendly_elt.models.runner import build_models
    from calendly_elt.runner import make_pipeline, run_extraction

    folder = Path(args.folder)
    pipeline = make_pipeline(duckdb_path=folder / DUCKDB_FILE, pipelines_dir=folder / "dlt")
    _time_steps(pipeline, split)
    settings = resolve_settings(
        access_token=args.token,
        base_url=args.base_url,
        start_date=args.since,  # no requests_per_minute: the client follows the server's limit
    )
    now = datetime.fromisoformat(args.now)
    summary = run_extraction(pipeline, settings, now=lambda: now)
    started = time.perf_counter()
    build_models(pipeline, as_of=now)
    split["models"] = time.perf_counter() - started
    return {
        "kind": summary.kind,
        "windows": summary.windows,
        "events": summary.events,
        "invitee_calls": summary.invitee_calls,
        "client_requests": summary.requests,
        "packages": summary.packages,
    }


def run_baseline(args: argparse.Namespace, split: dict[str, float]) -> dict[str, Any]:
    from bench.baseline import baseline_source

    folder = Path(args.folder)
    pipeline = dlt.pipeline(
        pipeline_name="calendly_rest_api",
        destination=dlt.destinations.duckdb(str(folder / DUCKDB_FILE)),
        dataset_name=BASELINE_DATASET,
        pipelines_dir=str(folder / "dlt"),
    )
    _time_steps(pipeline, split)
    source = baseline_source(args.base_url, args.token, args.organization, args.since)
    pipeline.extract(source)
    pipeline.normalize()
    pipeline.load()
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("side", choices=["ours", "baseline"])
    for option in (
        "--base-url",
        "--token",
        "--organization",
        "--since",
        "--now",
        "--folder",
        "--out",
    ):
        parser.add_argument(option, required=True)
    parser.add_argument("--requests-per-minute", type=int, default=6000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no calls home from a benchmark
    split: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    details = (run_ours if args.side == "ours" else run_baseline)(args, split)
    seconds = time.perf_counter() - started
    result = {
        "peak_rss_mb": own_peak_rss_mb(),
        "seconds_in_process": round(seconds, 2),
        "time_split": {step: round(value, 2) for step, value in split.items()},
        **details,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
