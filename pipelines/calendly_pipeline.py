"""Load a Calendly organization from a script, the way dlt's verified sources ship one.

The same job as ``calendly-elt run``, for people who schedule Python scripts
rather than commands, and the source used as any other dlt source:

    python pipelines/calendly_pipeline.py                   # incremental run + models
    python pipelines/calendly_pipeline.py --full-refresh    # re-read every window
    python pipelines/calendly_pipeline.py --plain-dlt       # pipeline.run(calendly_source())

Credentials and settings are read as for ``calendly-elt run``:
``CALENDLY_ACCESS_TOKEN`` (or an OAuth app), ``.dlt/secrets.toml``,
``.dlt/config.toml``. ``--plain-dlt`` shows the source on its own: one
extract without checkpoints, lock or model build, and soft deletes applied
by hand after the load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calendly_elt.calendly import RunOptions, apply_pending_deletions, calendly_source
from calendly_elt.calendly.config import resolve_settings
from calendly_elt.errors import CalendlyEltError
from calendly_elt.runner import DEFAULT_DUCKDB_PATH, make_pipeline, run_job


def load_organization(duckdb: Path, *, full_refresh: bool = False) -> None:
    """The whole job: checkpointed extraction, soft deletes, models, under the pipeline lock."""
    pipeline = make_pipeline(duckdb_path=duckdb)
    result = run_job(pipeline, resolve_settings(), full_refresh=full_refresh)
    summary = result.extraction
    built = len(result.models.models) if result.models else 0
    print(f"{summary.kind}: {summary.events} events, {summary.requests} requests, {built} models")


def load_with_plain_dlt(duckdb: Path) -> None:
    """``pipeline.run`` of the source, as with any dlt source (no checkpoints, no models)."""
    pipeline = make_pipeline(duckdb_path=duckdb)
    info = pipeline.run(calendly_source(resolve_settings(), RunOptions()))
    apply_pending_deletions(pipeline)
    print(info)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run one of the two."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", type=Path, default=DEFAULT_DUCKDB_PATH)
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--plain-dlt", action="store_true")
    args = parser.parse_args(argv)
    if args.plain_dlt:
        load_with_plain_dlt(args.duckdb)
    else:
        load_organization(args.duckdb, full_refresh=args.full_refresh)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalendlyEltError as error:  # one line, as the CLI prints it
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
