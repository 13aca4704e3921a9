"""Which raw columns the staging models read, checked against ``sources.yml``.

The raw tables are dlt's; the columns the models may rely on are those
``sql/staging/sources.yml`` declares (each of them in the source's raw-table
contract, ``COLUMN_HINTS``, so it exists even before any row has a value).
sqlglot resolves every column a staging model reads against those declared
columns: a model reading an undeclared column is reported with both names.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlglot
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.qualify import qualify

from calendly_elt.models.catalog import Catalog
from calendly_elt.models.transpile import SOURCE_DIALECT, RenderTarget, render_sql

RAW_SCHEMA = "raw"
MODEL_SCHEMA = "analytics"


def undeclared_reads(catalog: Catalog, declared: dict[str, tuple[str, ...]]) -> list[str]:
    """Problems found resolving the staging models' columns against ``declared``.

    Args:
        catalog: the models (only staging models are checked).
        declared: raw table -> its declared columns (``project.source_columns()``).

    Returns:
        One line per staging model that reads a column (or table) not declared;
        empty when every read is declared.
    """
    target = RenderTarget(
        dialect=SOURCE_DIALECT,
        qualify_model=lambda name: f'{MODEL_SCHEMA}."{name}"',
        qualify_source=lambda name: f'{RAW_SCHEMA}."{name}"',
        as_of=datetime.now(UTC),
    )
    schema: dict[str, object] = {
        RAW_SCHEMA: {
            table: {column: "VARCHAR" for column in columns} for table, columns in declared.items()
        }
    }
    problems = []
    for model in catalog.models:
        if model.layer != "staging":
            continue
        try:
            expression = sqlglot.parse_one(render_sql(model.sql, target), read=SOURCE_DIALECT)
            qualify(
                expression, schema=schema, dialect=SOURCE_DIALECT, validate_qualify_columns=True
            )
        except (OptimizeError, ParseError) as error:
            problems.append(f"{model.name}: {str(error).splitlines()[0]}")
    return problems
