"""calendly-elt as Dagster assets: the raw tables through dagster-dlt, the marts built from them.

    pip install "calendly-elt[dagster]" dagster-webserver   # the web UI of `dagster dev`
    export CALENDLY_ACCESS_TOKEN=...             # or .dlt/secrets.toml beside the warehouse
    dagster dev -f recipes/dagster/definitions.py

- ``calendly_raw``: one asset per raw table (``calendly/scheduled_events``,
  ``calendly/invitees``, ...), made by ``@dlt_assets`` over
  ``calendly_elt.calendly.calendly_source`` and run by ``DagsterDltResource``
  in the order ``calendly-elt run`` loads them (events and invitees, then
  the small lists, then the landed webhooks: one ``pipeline.run`` each, no
  mid-run checkpoints, so an interrupted run re-reads from the last
  completed one), under the warehouse lock, the soft deletes applied after
  each load;
- ``calendly_marts``: one asset per mart (``calendly_analytics/fct_bookings``,
  ...), each depending on the raw tables it reads (from the model catalog),
  built together by ``calendly_elt.models.runner.build_models`` under the
  same lock; its config ``as_of`` pins the models' reference instant;
- ``calendly_hourly``: both, at 17 past every hour.

The warehouse: ``CALENDLY_ELT_DESTINATION`` (a dlt destination name, e.g.
``postgres``, configured the dlt way) or the DuckDB file
``CALENDLY_ELT_DUCKDB`` (default ``calendly_warehouse.duckdb`` in the working
folder). Credentials are resolved when an asset runs, not when Dagster loads
this file. A second run while one holds the warehouse lock fails its first
step (``PipelineLockedError``); keep one at a time with a run-queue limit on
the tag ``calendly-elt/warehouse`` (see the README, "Scheduling").
"""

# no `from __future__ import annotations`: Dagster reads the context and config
# parameters' annotations at definition time

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from calendly_elt.calendly import (
    DIMENSION_RESOURCES,
    EVENT_RESOURCES,
    WEBHOOK_RESOURCES,
    RunOptions,
    apply_pending_deletions,
    calendly_source,
)
from calendly_elt.calendly.config import build_client, resolve_settings
from calendly_elt.calendly.helpers.reach import Reach
from calendly_elt.models.catalog import Catalog, Model, load_catalog
from calendly_elt.models.runner import analytics_schema_of, build_models, warehouse_client
from calendly_elt.runner import make_pipeline
from calendly_elt.runner.failures import clear_errors
from calendly_elt.runner.warehouse_lock import warehouse_lock

RAW_PREFIX = "calendly"  # the raw dataset: assets calendly/<table>
WAREHOUSE_TAG = {"calendly-elt/warehouse": "calendly"}


class CalendlyTranslator(DagsterDltTranslator):
    """Raw-table assets keyed ``calendly/<table>``; a transformer depends on its parent table."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        """The spec of one raw table (dagster-dlt's, with our key and dependencies)."""
        resource = data.resource
        parent = resource._pipe.parent.name if resource.is_transformer else None
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=dg.AssetKey([RAW_PREFIX, resource.name]),
                deps=[dg.AssetKey([RAW_PREFIX, parent])] if parent else [],
            )
        )


class MartsConfig(dg.Config):
    """The model build's reference instant (ISO, UTC); empty: now."""

    as_of: str = ""


def raw_tables_read_by(model: Model, catalog: Catalog) -> set[str]:
    """The raw tables ``model`` reads, through every model it refs."""
    tables = set(model.sources)
    for ref in model.refs:
        tables |= raw_tables_read_by(catalog.model(ref), catalog)
    return tables


def calendly_assets(pipeline: dlt.Pipeline) -> list[dg.AssetsDefinition]:
    """The raw-table assets and the mart assets of one warehouse (``make_pipeline``'s)."""
    # the source here only names the resources: credentials are resolved at run time
    plan = calendly_source(resolve_settings(require_credentials=False), RunOptions())

    @dlt_assets(
        dlt_source=plan,
        dlt_pipeline=pipeline,
        name="calendly_raw",
        dagster_dlt_translator=CalendlyTranslator(),
        op_tags=WAREHOUSE_TAG,
    )
    def calendly_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        selected = {key.path[-1] for key in context.selected_asset_keys}
        settings = resolve_settings()
        client = build_client(settings)
        reach = Reach(client, settings)  # one /users/me for the three loads
        try:
            with warehouse_lock(pipeline):
                # as `calendly-elt run` orders them: users adds the hosts of the loaded
                # events, the webhook merge needs the batch it merges into
                for part in (EVENT_RESOURCES, DIMENSION_RESOURCES, WEBHOOK_RESOURCES):
                    names = [name for name in part if name in selected]
                    if not names:
                        continue
                    source = calendly_source(settings, RunOptions(), client, reach)
                    # dlt's PipelineStepFailed back to calendly-elt's one line (a 401's advice...)
                    with clear_errors(f"loading {', '.join(names)}"):
                        yield from dlt.run(
                            context=context,
                            dlt_source=source.with_resources(*names),
                            **_file_format(pipeline),
                        )
                    apply_pending_deletions(pipeline)
        finally:
            client.close()

    catalog = load_catalog()
    marts = {
        mart.name: dg.AssetSpec(
            key=dg.AssetKey([analytics_schema_of(pipeline), mart.name]),
            deps=[
                dg.AssetKey([RAW_PREFIX, table])
                for table in sorted(raw_tables_read_by(mart, catalog))
            ],
            description=mart.description or None,
        )
        for mart in catalog.marts
    }

    @dg.multi_asset(specs=list(marts.values()), name="calendly_marts", op_tags=WAREHOUSE_TAG)
    def calendly_marts(context: dg.AssetExecutionContext, config: MartsConfig) -> Iterator[Any]:
        as_of = datetime.fromisoformat(config.as_of) if config.as_of else datetime.now(UTC)
        with warehouse_lock(pipeline):
            built = build_models(pipeline, as_of=as_of, catalog=catalog)
            rows = _row_counts(pipeline, list(marts))
        for name, spec in marts.items():
            yield dg.MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "dagster/row_count": rows[name],
                    "as_of": built.as_of.isoformat(),
                    "build_seconds": round(built.seconds, 3),
                },
            )

    return [calendly_raw, calendly_marts]


def _file_format(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """Parquet into DuckDB, as ``calendly-elt run`` loads it; dlt's default elsewhere."""
    destination = pipeline.destination
    if destination is not None and destination.destination_type.endswith("duckdb"):
        return {"loader_file_format": "parquet"}
    return {}


def _row_counts(pipeline: dlt.Pipeline, marts: list[str]) -> dict[str, int]:
    schema = analytics_schema_of(pipeline)
    with warehouse_client(pipeline) as client:
        return {
            name: int(client.execute_sql(f'select count(*) from "{schema}"."{name}"')[0][0])
            for name in marts
        }


def calendly_definitions(pipeline: dlt.Pipeline) -> dg.Definitions:
    """Assets, the dlt resource and an hourly schedule for one warehouse."""
    everything = dg.define_asset_job(
        "calendly_elt", selection=dg.AssetSelection.all(), tags=WAREHOUSE_TAG
    )
    return dg.Definitions(
        assets=calendly_assets(pipeline),
        resources={"dlt": DagsterDltResource()},
        jobs=[everything],
        schedules=[
            dg.ScheduleDefinition(
                name="calendly_hourly", job=everything, cron_schedule="17 * * * *"
            )
        ],
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dagster dev -f`` loads: the warehouse named by the environment."""
    pipeline = make_pipeline(
        destination=os.environ.get("CALENDLY_ELT_DESTINATION") or None,
        duckdb_path=os.environ.get("CALENDLY_ELT_DUCKDB") or None,
    )
    return calendly_definitions(pipeline)
