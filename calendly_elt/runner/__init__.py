"""The pipeline around the source: destination, lock, extraction, the job, status.

- ``destination.py``: the ``calendly`` dlt pipeline, where it loads, where its state lives;
- ``lock.py``: one run at a time per pipeline;
- ``extraction.py``: Calendly into the raw dataset, checkpoint by checkpoint;
- ``job.py``: extraction + model build under one lock (what ``run`` does);
- ``status.py``: what ``calendly-elt status`` shows;
- ``failures.py``: dlt's wrapped step failures as one clear line.
"""

from calendly_elt.runner.destination import (
    DEFAULT_DUCKDB_PATH,
    describe_destination,
    duckdb_state_dir,
    is_duckdb,
    make_pipeline,
)
from calendly_elt.runner.extraction import (
    RunSummary,
    finish_pending,
    merge_landed_webhooks,
    run_extraction,
)
from calendly_elt.runner.failures import ExtractionError, RecordsQuarantinedError
from calendly_elt.runner.job import JobResult, run_job, run_webhook_job
from calendly_elt.runner.lock import (
    LockHolder,
    PipelineLockedError,
    live_lock_holder,
    lock_path,
    pipeline_lock,
)
from calendly_elt.runner.status import StatusReport, read_status, row_counts

__all__ = [
    "DEFAULT_DUCKDB_PATH",
    "ExtractionError",
    "JobResult",
    "LockHolder",
    "PipelineLockedError",
    "RecordsQuarantinedError",
    "RunSummary",
    "StatusReport",
    "describe_destination",
    "duckdb_state_dir",
    "finish_pending",
    "is_duckdb",
    "live_lock_holder",
    "lock_path",
    "make_pipeline",
    "merge_landed_webhooks",
    "pipeline_lock",
    "read_status",
    "row_counts",
    "run_extraction",
    "run_job",
    "run_webhook_job",
]
