"""calendly-elt as an Airflow DAG, through dlt's ``PipelineTasksGroup``.

Copy this file into the DAGs folder of an Airflow (2.5+ or 3) whose workers
have calendly-elt installed (``pip install "calendly-elt[postgres]"``), and
give them the settings the dlt way: ``CALENDLY_ACCESS_TOKEN`` and
``DESTINATION__POSTGRES__CREDENTIALS`` in the environment, or
``.dlt/secrets.toml`` in the DAGs folder (``PipelineTasksGroup`` points dlt's
project folder there; never commit it). ``CALENDLY_ELT_DESTINATION`` names
another dlt destination (default ``postgres``).

Four tasks, one after the other, in the order ``calendly-elt run`` loads:

1. ``scheduled_events`` and ``invitees`` (the start-time windows);
2. the small lists (``users`` last: it adds the hosts of the loaded events);
3. the landed webhook deliveries, merged into the batch tables;
4. ``marts``: the soft deletes queued by step 1 applied, then the SQL models
   built, under the warehouse lock.

Each load task is one ``pipeline.run`` of ``calendly_source`` in a fresh local
folder (``PipelineTasksGroup`` wipes it afterwards): the pipeline state,
checkpoints included, is restored from the warehouse, so the warehouse must
be one that keeps it (PostgreSQL, BigQuery, Snowflake... not a DuckDB file on
a worker's disk: for that, run ``recipes/run-scheduled.sh`` from a
``BashOperator`` on one machine). ``max_active_runs=1`` keeps runs of this
DAG apart; the load tasks do not take calendly-elt's warehouse lock (dlt runs
them), so do not point a cron ``calendly-elt run`` at the same warehouse.
"""

import os

import pendulum
from dlt.extract import DltSource
from dlt.helpers.airflow_helper import PipelineTasksGroup

from calendly_elt.calendly import (
    DIMENSION_RESOURCES,
    EVENT_RESOURCES,
    WEBHOOK_RESOURCES,
    RunOptions,
    apply_pending_deletions,
    calendly_source,
)
from calendly_elt.calendly.config import resolve_settings
from calendly_elt.models.runner import build_models
from calendly_elt.runner import make_pipeline
from calendly_elt.runner.warehouse_lock import warehouse_lock

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

DESTINATION = os.environ.get("CALENDLY_ELT_DESTINATION", "postgres")


def calendly_part(*resources: str) -> DltSource:
    """The resources of ``calendly_source`` one load task runs.

    Built when Airflow parses this file; no request is sent then. Credentials
    are not required at parse time (the scheduler need not hold them): the
    worker that parses the file to run the task reads them from its
    environment or ``.dlt/secrets.toml``, and the first request uses them.
    """
    settings = resolve_settings(require_credentials=False)
    return calendly_source(settings, RunOptions()).with_resources(*resources)


@dag(
    schedule="17 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # never two runs on one warehouse
    default_args={"retries": 0},  # the client retries 5xx and waits out 429s itself
    tags=["calendly"],
)
def calendly_elt() -> None:
    """Extract Calendly, load the warehouse, build the marts, every hour."""
    tasks = PipelineTasksGroup("calendly", use_data_folder=False, wipe_local_data=True)
    # created after the group: dlt.pipeline() then uses the group's fresh local folder
    pipeline = make_pipeline(destination=DESTINATION)
    loads = [
        # one task each (task ids from the resources: calendly_scheduled_events-invitees...)
        tasks.add_run(pipeline, calendly_part(*part), decompose="none")[0]
        for part in (EVENT_RESOURCES, DIMENSION_RESOURCES, WEBHOOK_RESOURCES)
    ]

    @task
    def marts() -> int:
        """Apply the queued soft deletes, then build the models; the number built."""
        warehouse = make_pipeline(destination=DESTINATION)
        with warehouse_lock(warehouse):
            warehouse.sync_destination()  # the state the load tasks committed
            apply_pending_deletions(warehouse)
            return len(build_models(warehouse).models)

    loads[0] >> loads[1] >> loads[2] >> marts()


calendly_elt()
