"""The model builds' log: which ``as_of`` the marts in the warehouse reflect.

Every successful build (embedded or dbt) appends one row to ``model_builds``
in the raw dataset (``calendly.model_builds``: ``built_at, as_of, builder,
models, seconds``); the report and ``status`` read the newest one to state
the ``as_of`` they reflect. The marts themselves carry no such column, and a
table in the analytics schema would be lost in PostgreSQL's build-and-swap.
A failure to write the row is a warning, never a failed build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt

from calendly_elt.errors import database_in_use, one_line

logger = logging.getLogger(__name__)

TABLE = "model_builds"
_COLUMNS = (
    "built_at timestamp with time zone not null, as_of timestamp with time zone not null, "
    "builder varchar(16) not null, models integer not null, seconds double precision"
)


@dataclass(frozen=True)
class ModelBuild:
    """One build of the models."""

    built_at: datetime
    as_of: datetime
    builder: str
    models: int
    seconds: float | None


def log_build(client: Any, build: ModelBuild) -> None:
    """Append ``build`` to ``model_builds`` with an open sql client of the pipeline."""
    try:
        qualified = client.make_qualified_table_name(TABLE)
        client.execute_sql(f"create table if not exists {qualified} ({_COLUMNS})")
        client.execute_sql(
            f"insert into {qualified} (built_at, as_of, builder, models, seconds) "
            "values (%s, %s, %s, %s, %s)",
            build.built_at, build.as_of, build.builder, build.models, build.seconds,
        )  # fmt: skip
    except Exception as error:
        logger.warning("model build not logged: %s", one_line(error))


def log_build_of(pipeline: dlt.Pipeline, build: ModelBuild) -> None:
    """:func:`log_build` on a connection of its own."""
    try:
        with pipeline.sql_client() as client:
            log_build(client, build)
    except Exception as error:
        logger.warning("model build not logged: %s", one_line(error))


def last_build(client: Any) -> ModelBuild | None:
    """The newest build logged (None: none, or the table is missing)."""
    try:
        qualified = client.make_qualified_table_name(TABLE)
        rows = client.execute_sql(
            f"select built_at, as_of, builder, models, seconds from {qualified} "
            "order by built_at desc limit 1"
        )
    except Exception as error:
        in_use = database_in_use(error)
        if in_use is not None:
            raise in_use from error
        return None
    if not rows:
        return None
    built_at, as_of, builder, models, seconds = rows[0]
    return ModelBuild(utc(built_at), utc(as_of), str(builder), int(models), seconds)


def utc(value: Any) -> datetime:
    """A timestamp read back from the warehouse, as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]
