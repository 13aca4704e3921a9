"""The model catalog: which SQL models exist, what they read, and in which order to build them.

``sql/`` is a dbt project (see ``project.py``). Models are the ``.sql`` files
under ``sql/staging``, ``sql/intermediate`` and ``sql/marts`` (one model per
file, named after the file). A model refers to other models with
``{{ ref('name') }}`` and to raw tables with ``{{ source('calendly', 'table') }}``;
the build order is derived from those references. Descriptions, the
materialization (``config: {materialized: table}`` on the marts) and the
generic tests of every model live next to the SQL, in the ``schema.yml`` of
each layer folder. SQL tests are those generic tests, rendered here, plus the
singular tests, the ``.sql`` files under ``sql/tests``: queries that must
return zero rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Literal

from calendly_elt.models.errors import ModelDefinitionError
from calendly_elt.models.generic_tests import generic_test_name, generic_test_sql
from calendly_elt.models.project import (
    SCHEMA_FILE,
    SOURCES_FILE,
    SQL_ROOT,
    ModelProperties,
    model_properties,
    project_vars,
    source_columns,
)
from calendly_elt.models.transpile import check_template, refs_in, sources_in

__all__ = ["LAYERS", "SQL_ROOT", "Catalog", "Model", "SqlTest", "load_catalog"]

LAYERS: tuple[str, ...] = ("staging", "intermediate", "marts")
TESTS_FOLDER = "tests"

Materialization = Literal["view", "table"]


@dataclass(frozen=True)
class Model:
    """One SQL model: its name, layer, SQL template and what it reads."""

    name: str
    layer: str
    sql: str
    refs: frozenset[str]
    sources: frozenset[str]
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    materialization: Materialization = "view"


@dataclass(frozen=True)
class SqlTest:
    """One SQL test: a query (template) that must return zero rows.

    Attributes:
        name: the test's name (dbt's name for a generic test, the file's for a singular one).
        sql: the query template.
        refs: the models it reads.
        generic: whether it is a generic test declared in a ``schema.yml``.
    """

    name: str
    sql: str
    refs: frozenset[str]
    generic: bool = False


@dataclass(frozen=True)
class Catalog:
    """All models in dependency order, plus the SQL tests."""

    models: tuple[Model, ...]
    tests: tuple[SqlTest, ...]

    def model(self, name: str) -> Model:
        """The model called ``name``."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    @property
    def marts(self) -> tuple[Model, ...]:
        """The models of the marts layer (tables), in build order."""
        return tuple(model for model in self.models if model.layer == "marts")

    @property
    def sources(self) -> frozenset[str]:
        """Every raw table some model reads."""
        return frozenset().union(*(model.sources for model in self.models))


def load_catalog(root: Path = SQL_ROOT) -> Catalog:
    """Read every model, its properties and the SQL tests under ``root``.

    Args:
        root: the ``sql`` folder (a dbt project).

    Returns:
        The catalog, models in an order where each comes after what it refs;
        generic tests first (in model order), then the singular ones.

    Raises:
        ModelDefinitionError: a template the runner cannot render, unknown
            refs or sources, a ref cycle, a staging model not reading raw
            tables, or a non-staging model reading them.
    """
    context = _LoadContext(root)
    models = [model for layer in LAYERS for model in _load_layer(context, layer)]
    ordered = _in_dependency_order(models)
    generic = [test for model in ordered for test in context.generic_tests[model.name]]
    singular = [_load_test(context, path) for path in sorted((root / TESTS_FOLDER).glob("*.sql"))]
    tests = (*generic, *singular)
    _check_test_refs(tests, {model.name for model in models})
    return Catalog(models=ordered, tests=tests)


class _LoadContext:
    """What every file of one load is checked against (vars, sources) and collects."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.variables = project_vars(root)
        self.sources = source_columns(root)
        self.generic_tests: dict[str, list[SqlTest]] = {}

    def check(self, sql: str, path: Path) -> None:
        where = str(path.relative_to(self.root.parent))
        check_template(sql, where, self.variables)
        undeclared = sources_in(sql) - self.sources.keys()
        if undeclared:
            raise ModelDefinitionError(
                f"{where}: reads {sorted(undeclared)}, not declared in sql/{SOURCES_FILE}"
            )


def _load_layer(context: _LoadContext, layer: str) -> list[Model]:
    folder = context.root / layer
    properties = model_properties(folder)
    models = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        context.check(sql, path)
        described = properties.get(path.stem, ModelProperties())
        model = Model(
            name=path.stem,
            layer=layer,
            sql=sql,
            refs=refs_in(sql),
            sources=sources_in(sql),
            description=described.description,
            columns=described.columns,
            materialization=_materialization(described.materialized, path),
        )
        _check_layer_rules(model)
        context.generic_tests[model.name] = _generic_tests(described, folder / SCHEMA_FILE)
        models.append(model)
    return models


def _materialization(value: str, path: Path) -> Materialization:
    if value == "table":
        return "table"
    if value == "view":
        return "view"
    raise ModelDefinitionError(f"{path}: materialized {value!r}; the runner builds view or table")


def _generic_tests(properties: ModelProperties, schema_file: Path) -> list[SqlTest]:
    tests = []
    for declared in properties.tests:
        sql = generic_test_sql(declared, str(schema_file))
        tests.append(SqlTest(generic_test_name(declared), sql, refs_in(sql), generic=True))
    return tests


def _check_layer_rules(model: Model) -> None:
    if model.layer == "staging" and not model.sources:
        raise ModelDefinitionError(f"staging model {model.name} must read a raw table")
    if model.layer != "staging" and model.sources:
        raise ModelDefinitionError(
            f"model {model.name} reads raw tables; only staging models may do that"
        )


def _in_dependency_order(models: list[Model]) -> tuple[Model, ...]:
    by_name = {model.name: model for model in models}
    for model in models:
        unknown = model.refs - by_name.keys()
        if unknown:
            raise ModelDefinitionError(f"model {model.name} refs unknown {sorted(unknown)}")
    layer_rank = {layer: rank for rank, layer in enumerate(LAYERS)}
    graph = {model.name: set(model.refs) for model in models}
    try:
        sorter = TopologicalSorter(graph)
        sorter.prepare()
    except CycleError as error:
        raise ModelDefinitionError(f"models ref each other in a cycle: {error.args[1]}") from error
    ordered: list[Model] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda name: (layer_rank[by_name[name].layer], name))
        ordered.extend(by_name[name] for name in ready)
        sorter.done(*ready)
    return tuple(ordered)


def _load_test(context: _LoadContext, path: Path) -> SqlTest:
    sql = path.read_text(encoding="utf-8")
    context.check(sql, path)
    return SqlTest(name=path.stem, sql=sql, refs=refs_in(sql))


def _check_test_refs(tests: tuple[SqlTest, ...], model_names: set[str]) -> None:
    for test in tests:
        unknown = test.refs - model_names
        if unknown:
            raise ModelDefinitionError(f"SQL test {test.name} refs unknown {sorted(unknown)}")
