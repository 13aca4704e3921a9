"""Turn a model's SQL template into SQL for one destination.

The models are written in DuckDB's dialect with three kinds of placeholders:
``{{ ref('model') }}`` (another model, in the analytics schema),
``{{ source('table') }}`` (a raw table of the ``calendly`` dataset) and
``{{ as_of }}`` (the build's reference instant, a UTC ``timestamptz``).

For DuckDB the rendered SQL runs as written. For any other destination it is
transpiled with sqlglot from the ``duckdb`` dialect to the destination's
dialect (PostgreSQL is verified by the test suite; others are untested).
Placeholders become plain identifiers before transpiling and the
destination's fully qualified, quoted names after, so that sqlglot never has
to know about the destination's naming rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlglot

SOURCE_DIALECT = "duckdb"
MAX_CHAIN_LENGTH = 1000
"""Longest reschedule chain followed (guards the recursive walk against bad links)."""

_PLACEHOLDER = re.compile(r"\{\{\s*(ref|source)\(\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_AS_OF = re.compile(r"\{\{\s*as_of\s*\}\}")
_MAX_CHAIN = re.compile(r"\{\{\s*max_chain_length\s*\}\}")
_TOKEN = re.compile(r"[\"`\[]?__calendly_(ref|source)__([a-z0-9_]+)[\"`\]]?")


@dataclass(frozen=True)
class RenderTarget:
    """Where and for what instant a model is rendered.

    Attributes:
        dialect: sqlglot dialect of the destination (``duckdb``, ``postgres``...).
        qualify_model: model name -> fully qualified, quoted relation name.
        qualify_source: raw table name -> fully qualified, quoted table name.
        as_of: the build's reference instant (aware).
    """

    dialect: str
    qualify_model: Callable[[str], str]
    qualify_source: Callable[[str], str]
    as_of: datetime


def as_of_literal(as_of: datetime) -> str:
    """A UTC ``timestamptz`` SQL literal for ``as_of`` (microsecond precision)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    text = as_of.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")  # 4-digit year
    return f"cast('{text}' as timestamptz)"


def render_sql(template: str, target: RenderTarget) -> str:
    """Render a model or test template into runnable SQL for ``target``.

    Args:
        template: the SQL with ``ref``/``source``/``as_of`` placeholders.
        target: the destination's dialect, naming and the build's ``as_of``.

    Returns:
        SQL in the destination's dialect with fully qualified names.
    """
    sql = _PLACEHOLDER.sub(lambda match: f"__calendly_{match[1]}__{match[2]}", template)
    sql = _AS_OF.sub(as_of_literal(target.as_of), sql)
    sql = _MAX_CHAIN.sub(str(MAX_CHAIN_LENGTH), sql)
    if target.dialect != SOURCE_DIALECT:
        sql = transpile(sql, target.dialect)
    return _TOKEN.sub(lambda match: _qualify(match, target), sql)


def transpile(sql: str, dialect: str) -> str:
    """Transpile one DuckDB-dialect statement to ``dialect`` with sqlglot."""
    statements = sqlglot.transpile(sql, read=SOURCE_DIALECT, write=dialect, pretty=True)
    return ";\n".join(statements)


def _qualify(match: re.Match[str], target: RenderTarget) -> str:
    kind, name = match[1], match[2]
    return target.qualify_model(name) if kind == "ref" else target.qualify_source(name)
