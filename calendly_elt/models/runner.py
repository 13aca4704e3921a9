"""Build the SQL models in a dlt pipeline's destination and run the SQL tests.

``build_models`` renders every model of the catalog (see ``catalog.py``) for
the destination, then creates staging and intermediate models as views and
marts as tables in the analytics schema, in dependency order, through
``pipeline.sql_client()``.

A failed build leaves the previous marts intact:

- destinations with transactional DDL (DuckDB, PostgreSQL, ...) build
  everything in one transaction, rolled back on the first error;
- other destinations (untested) build the marts under a ``__next`` suffix and
  swap them in only once every model has been built.

The analytics schema is ``<raw dataset>_analytics`` (``calendly_analytics``
for the default dataset ``calendly``), in the same database as the raw data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseException, DatabaseUndefinedRelation

from calendly_elt.duckdb_memory import RAISE_THE_LIMIT, is_out_of_memory, lift_default_limit
from calendly_elt.errors import database_in_use
from calendly_elt.models.build_log import ModelBuild, log_build
from calendly_elt.models.catalog import Catalog, Model, load_catalog
from calendly_elt.models.dependents import restore_dependent_views, save_dependent_views
from calendly_elt.models.errors import (
    MartsMissingError,
    ModelBuildError,
    RawDataMissingError,
    WarehouseUnavailableError,
)
from calendly_elt.models.project import source_columns
from calendly_elt.models.transpile import RenderTarget, render_sql

logger = logging.getLogger(__name__)

SWAP_SUFFIX = "__next"
# dialects whose DROP VIEW / DROP TABLE take CASCADE (BigQuery, Snowflake views, T-SQL don't)
CASCADE_DIALECTS = frozenset({"duckdb", "postgres", "redshift"})
TEST_SAMPLE_ROWS = 5
# raw tables only organizations with routing forms have (a plan feature and a scope):
# the models read an empty relation in their place when they are not loaded
OPTIONAL_SOURCES = frozenset(
    {
        "routing_forms",
        "routing_forms__questions",
        "routing_form_submissions",
        "routing_form_submissions__questions_and_answers",
    }
)
DLT_COLUMNS = ("_dlt_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_load_id")


@dataclass(frozen=True)
class BuiltModel:
    """One model the build created."""

    name: str
    layer: str
    materialization: str
    seconds: float


@dataclass(frozen=True)
class SqlTestFailure:
    """A SQL test that returned rows (it must return none)."""

    name: str
    failing_rows: int
    sample: list[tuple[Any, ...]]

    def __str__(self) -> str:
        return f"{self.name}: {self.failing_rows} failing row(s), e.g. {self.sample[:2]}"


@dataclass
class BuildResult:
    """What a model build did.

    Attributes:
        as_of: the reference instant the models were built for (UTC).
        analytics_schema: the schema holding the models.
        models: the models built, in build order.
        seconds: wall time of the build (without tests).
        test_failures: SQL tests that failed; empty if they passed or did not run.
        tests_ran: whether the SQL tests were run.
    """

    as_of: datetime
    analytics_schema: str
    models: list[BuiltModel] = field(default_factory=list)
    seconds: float = 0.0
    test_failures: list[SqlTestFailure] = field(default_factory=list)
    tests_ran: bool = False


def analytics_schema_of(pipeline: dlt.Pipeline) -> str:
    """Name of the schema the models are built in, for ``pipeline``'s raw dataset."""
    return f"{pipeline.dataset_name}_analytics"


@contextmanager
def warehouse_client(pipeline: dlt.Pipeline) -> Iterator[Any]:
    """Open ``pipeline``'s SQL client; a failure to connect becomes one clear line.

    Errors raised inside the ``with`` block pass through unchanged.

    Raises:
        WarehouseUnavailableError: the credentials are missing or the server refused.
        DatabaseInUseError: another process has the DuckDB file open.
    """
    with ExitStack() as stack:
        try:
            opened: Any = pipeline.sql_client()
            client = stack.enter_context(opened)
        except Exception as error:
            raise database_in_use(error) or WarehouseUnavailableError(
                f"cannot connect to the {_destination_name(pipeline)} warehouse: "
                f"{_first_line(error)}"
            ) from error
        yield client


def _destination_name(pipeline: dlt.Pipeline) -> str:
    destination = pipeline.destination
    return destination.destination_type.rsplit(".", 1)[-1] if destination else "unconfigured"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else 'no details'}"


def build_models(
    pipeline: dlt.Pipeline,
    *,
    as_of: datetime | None = None,
    run_tests: bool = False,
    catalog: Catalog | None = None,
) -> BuildResult:
    """Build every model in ``pipeline``'s destination, in dependency order.

    Args:
        pipeline: a dlt pipeline whose destination holds the raw ``calendly`` tables.
        as_of: the instant outcomes are judged at (aware; default: now, UTC).
        run_tests: run the SQL tests after a successful build.
        catalog: the models to build (default: the ones under ``sql/``).

    Returns:
        What was built, how long it took and any failing SQL tests.

    Raises:
        RawDataMissingError: a raw table the models read has not been loaded.
        ModelBuildError: a model failed; the previous marts are unchanged.
    """
    catalog = catalog or load_catalog()
    as_of = _utc(as_of or datetime.now(UTC))
    result = BuildResult(as_of=as_of, analytics_schema=analytics_schema_of(pipeline))
    started = time.perf_counter()
    logger.info("building %d models for as_of %s", len(catalog.models), as_of.isoformat())
    with warehouse_client(pipeline) as client:
        _check_sources_loaded(client, catalog)
        result.models = _build_all(client, catalog, result.analytics_schema, as_of)
        result.seconds = time.perf_counter() - started
        built = ModelBuild(datetime.now(UTC), as_of, "embedded", len(result.models), result.seconds)
        log_build(client, built)  # the as_of the report and `status` state
    logger.info("built %d models in %.2fs", len(result.models), result.seconds)
    if run_tests:
        result.test_failures = run_sql_tests(pipeline, catalog=catalog)
        result.tests_ran = True
    return result


def run_sql_tests(
    pipeline: dlt.Pipeline, *, catalog: Catalog | None = None
) -> list[SqlTestFailure]:
    """Run every SQL test under ``sql/tests`` against the built models.

    Args:
        pipeline: the pipeline whose destination holds the built models.
        catalog: the models and tests (default: the ones under ``sql/``).

    Returns:
        The failing tests (each returned rows); empty when all pass.

    Raises:
        MartsMissingError: the models have not been built yet.
    """
    catalog = catalog or load_catalog()
    schema = analytics_schema_of(pipeline)
    failures = []
    with warehouse_client(pipeline) as client:
        target = render_target_for(client, schema, datetime.now(UTC))
        for test in catalog.tests:
            rows = _run_test_query(client, test.name, render_sql(test.sql, target))
            if rows:
                failures.append(SqlTestFailure(test.name, len(rows), rows[:TEST_SAMPLE_ROWS]))
                logger.warning("SQL test %s failed with %d row(s)", test.name, len(rows))
    logger.info("%d SQL tests, %d failed", len(catalog.tests), len(failures))
    return failures


def _run_test_query(client: Any, name: str, sql: str) -> list[tuple[Any, ...]]:
    try:
        return [tuple(row) for row in client.execute_sql(sql) or []]
    except DatabaseUndefinedRelation as error:
        raise MartsMissingError(
            f"SQL test {name} found no models to test: run `calendly-elt models` first"
        ) from error


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ModelBuildError("as_of must carry a timezone (e.g. 2024-05-01T00:00:00Z)")
    return moment.astimezone(UTC)


def render_target_for(
    client: Any,
    schema: str,
    as_of: datetime | None = None,
    renamed: dict[str, str] | None = None,
) -> RenderTarget:
    """How to render SQL templates for ``client``'s destination and the models in ``schema``.

    Args:
        client: an open dlt SQL client of the pipeline.
        schema: the analytics schema the models live in.
        as_of: the build's reference instant (default: now).
        renamed: model name -> relation name, for marts built under another name.

    Returns:
        The render target (dialect, qualified names, as_of).
    """
    renamed = renamed or {}

    def qualify_model(name: str) -> str:
        path = client.make_qualified_table_name_path(renamed.get(name, name), dataset_name=schema)
        return ".".join(path)

    return RenderTarget(
        dialect=client.capabilities.sqlglot_dialect or "duckdb",
        qualify_model=qualify_model,
        qualify_source=_source_qualifier(client),
        as_of=as_of or datetime.now(UTC),
    )


def _source_qualifier(client: Any) -> Callable[[str], str]:
    """``source()`` -> the raw table, or an empty relation for an optional one not loaded.

    dlt creates no table for a resource that yields nothing, and the routing
    tables are loaded only for organizations with routing forms (a plan
    feature, and the ``routing_forms:read`` scope).
    """
    present = _loaded_tables(client)
    declared = source_columns()

    def qualify(name: str) -> str:
        if name in OPTIONAL_SOURCES and name not in present:
            return _empty_relation(name, declared.get(name, ()))
        return str(client.make_qualified_table_name(name))

    return qualify


def _loaded_tables(client: Any) -> set[str]:
    """The tables of the raw dataset (information_schema: no failing query in a transaction)."""
    rows = client.execute_sql(
        "select table_name from information_schema.tables where table_schema = %s",
        client.dataset_name,
    )
    return {str(row[0]) for row in rows or []}


def _empty_relation(name: str, columns: tuple[str, ...]) -> str:
    wanted = list(dict.fromkeys([*columns, *DLT_COLUMNS]))
    selected = ", ".join(
        f'cast(null as {"bigint" if column == "_dlt_list_idx" else "varchar"}) as "{column}"'
        for column in wanted
    )
    return f"(select {selected} where 1 = 0) as {name}"


def supports_transactional_ddl(client: Any) -> bool:
    """Whether the destination can roll back DDL (then the build is one transaction)."""
    return bool(client.capabilities.supports_ddl_transactions)


def _check_sources_loaded(client: Any, catalog: Catalog) -> None:
    missing = []
    for table in sorted(catalog.sources - OPTIONAL_SOURCES):
        qualified = client.make_qualified_table_name(table)
        try:
            client.execute_sql(f"select 1 from {qualified} where 1 = 0")
        except DatabaseUndefinedRelation:
            missing.append(table)
    if missing:
        raise RawDataMissingError(
            f"raw table(s) {', '.join(missing)} not found in dataset {client.dataset_name}: "
            "run `calendly-elt run` first"
        )


def _build_all(client: Any, catalog: Catalog, schema: str, as_of: datetime) -> list[BuiltModel]:
    """Build every model; once more without our DuckDB memory limit if it was too small."""
    build = _build_in_transaction if supports_transactional_ddl(client) else _build_and_swap
    try:
        return build(client, catalog, schema, as_of)
    except ModelBuildError as error:
        if not is_out_of_memory(error) or not _is_duckdb(client):
            raise
        if not lift_default_limit(client):
            raise ModelBuildError(f"{error}; {RAISE_THE_LIMIT}") from error
        return build(client, catalog, schema, as_of)


def _is_duckdb(client: Any) -> bool:
    return "duckdb" in type(client).__name__.lower()


def _build_in_transaction(
    client: Any, catalog: Catalog, schema: str, as_of: datetime
) -> list[BuiltModel]:
    target = render_target_for(client, schema, as_of)
    with client.begin_transaction():
        _create_schema(client, schema)
        kept = save_dependent_views(client, schema, {model.name for model in catalog.models})
        built = [_build_model(client, model, target) for model in catalog.models]
        for view in kept:
            with _errors_named(f"{view.schema}.{view.name} (a view that reads the models)"):
                restore_dependent_views(client, [view])
        return built


def _build_and_swap(
    client: Any, catalog: Catalog, schema: str, as_of: datetime
) -> list[BuiltModel]:
    logger.warning("destination has no transactional DDL: building marts beside the old ones")
    renamed = {mart.name: mart.name + SWAP_SUFFIX for mart in catalog.marts}
    target = render_target_for(client, schema, as_of, renamed)
    _create_schema(client, schema)
    built = [_build_model(client, model, target) for model in catalog.models]
    final_target = render_target_for(client, schema, as_of)
    for mart in catalog.marts:
        _run(client, f"drop table if exists {{{{ ref('{mart.name}') }}}}", final_target)
        staged = target.qualify_model(mart.name)
        _run(client, f"alter table {staged} rename to {mart.name}", None)
    return built


def _create_schema(client: Any, schema: str) -> None:
    qualified = ".".join(client.make_qualified_table_name_path(None, dataset_name=schema))
    with _errors_named("(analytics schema)"):
        client.execute_sql(f"create schema if not exists {qualified}")


def _build_model(client: Any, model: Model, target: RenderTarget) -> BuiltModel:
    started = time.perf_counter()
    kind = model.materialization
    ref = f"{{{{ ref('{model.name}') }}}}"
    with _errors_named(model.name):
        cascade = " cascade" if target.dialect in CASCADE_DIALECTS else ""
        _run(client, f"drop {kind} if exists {ref}{cascade}", target)
        _run(client, f"create {kind} {ref} as\n{model.sql}", target)
    seconds = time.perf_counter() - started
    logger.info("built %s %s in %.3fs", kind, model.name, seconds)
    return BuiltModel(model.name, model.layer, kind, seconds)


def _run(client: Any, template: str, target: RenderTarget | None) -> None:
    sql = template if target is None else render_sql(template, target)
    logger.debug("running SQL:\n%s", sql)
    client.execute_sql(sql)


@contextmanager
def _errors_named(model: str) -> Iterator[None]:
    try:
        yield
    except DatabaseException as error:
        first_line = (str(error.dbapi_exception).strip().splitlines() or ["unknown error"])[0]
        raise ModelBuildError(
            f"model {model} failed, previous marts left unchanged: {first_line}"
        ) from error
