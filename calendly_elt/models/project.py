"""The dbt project files under ``sql/``, read the way dbt reads them.

``sql/`` is a dbt project: ``dbt_project.yml`` (its name and ``vars``),
``staging/sources.yml`` (the raw tables of the ``calendly`` source and the
columns staging reads) and a ``schema.yml`` per layer folder (``version: 2``:
every model, its ``config``, its columns and their ``data_tests``). This
module reads them into plain data for the embedded runner; nothing here needs
dbt installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calendly_elt.models.errors import ModelDefinitionError

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
PROJECT_FILE = "dbt_project.yml"
SOURCES_FILE = Path("staging") / "sources.yml"
SCHEMA_FILE = "schema.yml"
SOURCE_NAME = "calendly"


@dataclass(frozen=True)
class DeclaredTest:
    """A generic test declared on a column: ``unique``, ``relationships``...

    Attributes:
        kind: the generic test's name.
        model: the model it tests.
        column: the column it tests.
        arguments: its arguments (``values``, ``to``, ``field``).
    """

    kind: str
    model: str
    column: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelProperties:
    """What a ``schema.yml`` says about one model."""

    description: str = ""
    materialized: str = "view"
    columns: dict[str, str] = field(default_factory=dict)
    tests: tuple[DeclaredTest, ...] = ()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ModelDefinitionError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(document, dict):
        raise ModelDefinitionError(f"{path}: expected a mapping at the top level")
    return document


def project_vars(root: Path = SQL_ROOT) -> dict[str, Any]:
    """The ``vars`` of ``dbt_project.yml`` (their defaults), ``as_of`` included."""
    path = root / PROJECT_FILE
    if not path.exists():
        return {}
    return dict(_read_yaml(path).get("vars") or {})


def source_columns(root: Path = SQL_ROOT) -> dict[str, tuple[str, ...]]:
    """Raw table -> the columns ``sources.yml`` declares for it (source ``calendly``).

    Raises:
        ModelDefinitionError: the file declares no ``calendly`` source.
    """
    path = root / SOURCES_FILE
    if not path.exists():
        return {}
    for source in _read_yaml(path).get("sources") or []:
        if source.get("name") == SOURCE_NAME:
            return {
                table["name"]: tuple(column["name"] for column in table.get("columns") or [])
                for table in source.get("tables") or []
            }
    raise ModelDefinitionError(f"{path}: no source named {SOURCE_NAME!r}")


def model_properties(folder: Path) -> dict[str, ModelProperties]:
    """Model name -> its description, materialization, columns and generic tests.

    Args:
        folder: a layer folder; its ``schema.yml`` is read (none: no properties).

    Raises:
        ModelDefinitionError: the file is not dbt's ``version: 2`` format.
    """
    path = folder / SCHEMA_FILE
    if not path.exists():
        return {}
    document = _read_yaml(path)
    if document.get("version") != 2:
        raise ModelDefinitionError(f"{path}: dbt property files start with `version: 2`")
    return {entry["name"]: _properties(entry, path) for entry in document.get("models") or []}


def _properties(entry: dict[str, Any], path: Path) -> ModelProperties:
    model = entry["name"]
    columns = entry.get("columns") or []
    tests = tuple(
        _declared_test(spec, model, column["name"], path)
        for column in columns
        for spec in column.get("data_tests") or []
    )
    if entry.get("data_tests"):
        raise ModelDefinitionError(
            f"{path}: model-level data_tests on {model}; declare them on a column "
            "or write a singular test in sql/tests"
        )
    return ModelProperties(
        description=str(entry.get("description", "")).strip(),
        materialized=str((entry.get("config") or {}).get("materialized", "view")),
        columns={column["name"]: str(column.get("description", "")).strip() for column in columns},
        tests=tests,
    )


def _declared_test(spec: Any, model: str, column: str, path: Path) -> DeclaredTest:
    if isinstance(spec, str):
        return DeclaredTest(spec, model, column)
    if isinstance(spec, dict) and len(spec) == 1:
        kind, body = next(iter(spec.items()))
        body = dict(body or {})
        arguments = dict(body.pop("arguments", None) or {})
        arguments.update({key: value for key, value in body.items() if key != "config"})
        return DeclaredTest(str(kind), model, column, arguments)
    raise ModelDefinitionError(f"{path}: cannot read the test {spec!r} of {model}.{column}")
