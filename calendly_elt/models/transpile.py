"""Turn a model's SQL template into SQL for one destination.

The models are dbt models written in DuckDB's dialect, and this runner renders
exactly the part of dbt's Jinja they use, nothing else:
``{{ ref('model') }}`` (another model, in the analytics schema),
``{{ source('calendly', 'table') }}`` (a raw table of the loaded dataset) and
``{{ var('name') }}`` (a variable of ``dbt_project.yml``; ``as_of`` is the
build's reference instant as ISO 8601 UTC text, so the models write
``cast('{{ var('as_of') }}' as timestamptz)``). ``check_template`` refuses any
other template construct, so a model that only dbt could build fails at load
time with its file's name, never half-rendered.

For DuckDB the rendered SQL runs as written. For any other destination it is
transpiled with sqlglot from the ``duckdb`` dialect to the destination's
dialect (PostgreSQL is verified by the test suite; others are untested).
Placeholders become plain identifiers before transpiling and the
destination's fully qualified, quoted names after, so that sqlglot never has
to know about the destination's naming rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlglot

from calendly_elt.models.errors import ModelDefinitionError
from calendly_elt.models.project import SOURCE_NAME, project_vars

SOURCE_DIALECT = "duckdb"
AS_OF_VAR = "as_of"

_NAME = r"'([a-z0-9_]+)'|\"([a-z0-9_]+)\""
_REF = re.compile(rf"\{{\{{\s*ref\(\s*(?:{_NAME})\s*\)\s*\}}\}}")
_SOURCE = re.compile(rf"\{{\{{\s*source\(\s*(?:{_NAME})\s*,\s*(?:{_NAME})\s*\)\s*\}}\}}")
_VAR = re.compile(rf"\{{\{{\s*var\(\s*(?:{_NAME})\s*\)\s*\}}\}}")
_ANY_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#", re.DOTALL)
_TOKEN = re.compile(r"[\"`\[]?__calendly_(ref|source)__([a-z0-9_]+)[\"`\]]?")


def _name(match: re.Match[str], group: int) -> str:
    return match[group] or match[group + 1]


@dataclass(frozen=True)
class RenderTarget:
    """Where and for what instant a model is rendered.

    Attributes:
        dialect: sqlglot dialect of the destination (``duckdb``, ``postgres``...).
        qualify_model: model name -> fully qualified, quoted relation name.
        qualify_source: raw table name -> fully qualified, quoted table name.
        as_of: the build's reference instant (aware); the value of ``var('as_of')``.
        variables: the other ``var()`` values (default: ``dbt_project.yml``'s).
    """

    dialect: str
    qualify_model: Callable[[str], str]
    qualify_source: Callable[[str], str]
    as_of: datetime
    variables: Mapping[str, Any] = field(default_factory=project_vars)


def as_of_text(as_of: datetime) -> str:
    """``as_of`` as UTC ISO text with microseconds (what ``var('as_of')`` renders to)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return as_of.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")  # 4-digit year


def as_of_literal(as_of: datetime) -> str:
    """A UTC ``timestamptz`` SQL literal for ``as_of`` (microsecond precision)."""
    return f"cast('{as_of_text(as_of)}' as timestamptz)"


def check_template(template: str, where: str, variables: Mapping[str, Any]) -> None:
    """Refuse any template construct this runner does not render.

    Args:
        template: the SQL of a model or test.
        where: the file it comes from (named in the error).
        variables: the variables ``var()`` may name.

    Raises:
        ModelDefinitionError: a Jinja construct other than ``ref``, ``source``
            of the ``calendly`` source, or ``var`` of a declared variable.
    """
    for match in _ANY_TEMPLATE.finditer(template):
        text = match[0]
        problem = _template_problem(text, variables)
        if problem:
            raise ModelDefinitionError(
                f"{where}: {problem} in `{text[:60]}`; the embedded runner renders only "
                "ref('model'), source('calendly', 'table') and var('name') "
                "(build this model with `calendly-elt models --with dbt`)"
            )


def _template_problem(text: str, variables: Mapping[str, Any]) -> str | None:
    if _REF.fullmatch(text):
        return None
    source = _SOURCE.fullmatch(text)
    if source:
        name = _name(source, 1)
        return None if name == SOURCE_NAME else f"unknown source {name!r}"
    var = _VAR.fullmatch(text)
    if var:
        name = _name(var, 1)
        return None if name == AS_OF_VAR or name in variables else f"undeclared var {name!r}"
    return "unsupported template"


def render_sql(template: str, target: RenderTarget) -> str:
    """Render a model or test template into runnable SQL for ``target``.

    Args:
        template: the SQL with ``ref``/``source``/``var`` placeholders.
        target: the destination's dialect, naming, the build's ``as_of`` and vars.

    Returns:
        SQL in the destination's dialect with fully qualified names.
    """
    sql = _REF.sub(lambda match: f"__calendly_ref__{_name(match, 1)}", template)
    sql = _SOURCE.sub(lambda match: f"__calendly_source__{_name(match, 3)}", sql)
    sql = _VAR.sub(lambda match: _var_value(_name(match, 1), target), sql)
    if target.dialect != SOURCE_DIALECT:
        sql = transpile(sql, target.dialect)
    return _TOKEN.sub(lambda match: _qualify(match, target), sql)


def _var_value(name: str, target: RenderTarget) -> str:
    if name == AS_OF_VAR:
        return as_of_text(target.as_of)
    if name not in target.variables:
        raise ModelDefinitionError(f"var({name!r}) is not declared in dbt_project.yml")
    return str(target.variables[name])


def transpile(sql: str, dialect: str) -> str:
    """Transpile one DuckDB-dialect statement to ``dialect`` with sqlglot."""
    statements = sqlglot.transpile(sql, read=SOURCE_DIALECT, write=dialect, pretty=True)
    return ";\n".join(statements)


def _qualify(match: re.Match[str], target: RenderTarget) -> str:
    kind, name = match[1], match[2]
    return target.qualify_model(name) if kind == "ref" else target.qualify_source(name)


def refs_in(template: str) -> frozenset[str]:
    """The models ``template`` refs."""
    return frozenset(_name(match, 1) for match in _REF.finditer(template))


def sources_in(template: str) -> frozenset[str]:
    """The raw tables ``template`` reads through ``source('calendly', ...)``."""
    return frozenset(_name(match, 3) for match in _SOURCE.finditer(template))
