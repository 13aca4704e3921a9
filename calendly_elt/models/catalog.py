"""The model catalog: which SQL models exist, what they read, and in which order to build them.

Models are the ``.sql`` files under ``sql/staging``, ``sql/intermediate`` and
``sql/marts`` (one model per file, named after the file). A model refers to
other models with ``{{ ref('name') }}`` and to raw tables with
``{{ source('table') }}``; the build order is derived from those references.
Descriptions of every model and column live next to the SQL, in the
``schema.yml`` of each layer folder. SQL tests are the ``.sql`` files under
``sql/tests``: queries that must return zero rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Literal

import yaml

from calendly_elt.models.errors import ModelDefinitionError

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
LAYERS: tuple[str, ...] = ("staging", "intermediate", "marts")
TESTS_FOLDER = "tests"

Materialization = Literal["view", "table"]

_REF_PATTERN = re.compile(r"\{\{\s*ref\(\s*'([a-z0-9_]+)'\s*\)\s*\}\}")
_SOURCE_PATTERN = re.compile(r"\{\{\s*source\(\s*'([a-z0-9_]+)'\s*\)\s*\}\}")


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

    @property
    def materialization(self) -> Materialization:
        """Marts are tables (queried by people); staging and intermediate are views."""
        return "table" if self.layer == "marts" else "view"


@dataclass(frozen=True)
class SqlTest:
    """One SQL test: a query (template) that must return zero rows."""

    name: str
    sql: str
    refs: frozenset[str]


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
        """The models materialized as tables, in build order."""
        return tuple(model for model in self.models if model.layer == "marts")

    @property
    def sources(self) -> frozenset[str]:
        """Every raw table some model reads."""
        return frozenset().union(*(model.sources for model in self.models))


def load_catalog(root: Path = SQL_ROOT) -> Catalog:
    """Read every model, its descriptions and the SQL tests under ``root``.

    Args:
        root: the ``sql`` folder.

    Returns:
        The catalog, models in an order where each comes after what it refs.

    Raises:
        ModelDefinitionError: unknown refs, a ref cycle, a staging model not
            reading raw tables, or a non-staging model reading them.
    """
    models = [model for layer in LAYERS for model in _load_layer(root / layer, layer)]
    ordered = _in_dependency_order(models)
    tests = tuple(_load_test(path) for path in sorted((root / TESTS_FOLDER).glob("*.sql")))
    _check_test_refs(tests, {model.name for model in models})
    return Catalog(models=ordered, tests=tests)


def _load_layer(folder: Path, layer: str) -> list[Model]:
    descriptions = _read_descriptions(folder / "schema.yml")
    models = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        described = descriptions.get(path.stem, {})
        model = Model(
            name=path.stem,
            layer=layer,
            sql=sql,
            refs=frozenset(_REF_PATTERN.findall(sql)),
            sources=frozenset(_SOURCE_PATTERN.findall(sql)),
            description=str(described.get("description", "")).strip(),
            columns=_column_descriptions(described),
        )
        _check_layer_rules(model)
        models.append(model)
    return models


def _read_descriptions(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {entry["name"]: entry for entry in document.get("models", [])}


def _column_descriptions(described: dict[str, Any]) -> dict[str, str]:
    return {
        column["name"]: str(column.get("description", "")).strip()
        for column in described.get("columns", [])
    }


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


def _load_test(path: Path) -> SqlTest:
    sql = path.read_text(encoding="utf-8")
    return SqlTest(name=path.stem, sql=sql, refs=frozenset(_REF_PATTERN.findall(sql)))


def _check_test_refs(tests: tuple[SqlTest, ...], model_names: set[str]) -> None:
    for test in tests:
        unknown = test.refs - model_names
        if unknown:
            raise ModelDefinitionError(f"SQL test {test.name} refs unknown {sorted(unknown)}")
