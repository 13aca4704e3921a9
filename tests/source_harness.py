"""Test harness for the dlt source: a simulated organization, runs, and a store-vs-load diff.

``SourceHarness`` wires a generated organization, its in-process simulator,
settings and a DuckDB pipeline in a temp folder. ``expected_tree`` flattens
the simulator's API objects the way dlt does (nested objects become
``parent__child`` columns, lists become child tables ordered by
``_dlt_list_idx``, scalar lists a ``value`` column), ``loaded_tree`` rebuilds
the same shape from DuckDB, so a test compares every field of every row,
child tables included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from calendly_elt.calendly.config import CalendlySettings, resolve_settings
from calendly_elt.runner import RunSummary, make_pipeline, run_extraction
from calendly_elt.simulator import SimConfig, Simulator, generate_organization
from calendly_elt.simulator.store import Store, uuid_of

FAST = 1_000_000  # requests per minute: no rate limiting unless a test wants it
IGNORED_COLUMNS = {"is_deleted", "deleted_at", "invitees_read_at"}  # our bookkeeping


@dataclass
class SourceHarness:
    """A simulated organization and a DuckDB pipeline to load it into."""

    store: Store
    folder: Path
    config: SimConfig = field(default_factory=lambda: SimConfig(requests_per_minute=FAST))
    sim: Simulator = field(init=False)
    client_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sim = Simulator(self.store, self.config)

    def settings(self, **overrides: Any) -> CalendlySettings:
        values: dict[str, Any] = {
            "access_token": self.store.admin_token,
            "requests_per_minute": FAST,
            "token_store_path": str(self.folder / "tokens.json"),
        }
        values.update(overrides)
        return resolve_settings(**values)

    def pipeline(self, name: str = "calendly_test") -> dlt.Pipeline:
        return make_pipeline(duckdb_path=self.folder / f"{name}.duckdb")

    def run(
        self,
        pipeline: dlt.Pipeline | None = None,
        *,
        settings: CalendlySettings | None = None,
        **options: Any,
    ) -> RunSummary:
        return run_extraction(
            pipeline or self.pipeline(),
            settings or self.settings(),
            now=self.store.clock.now,
            transport=self.sim.transport(),
            client_options=self.client_options,
            **options,
        )


def make_harness(folder: Path, size: str = "small", seed: int = 7, **config: Any) -> SourceHarness:
    store = generate_organization(seed=seed, size=size)
    return SourceHarness(store, folder, SimConfig(requests_per_minute=FAST, **config))


# ---- flattening the simulator's objects the way dlt does -----------------------------


SNAKE_CASE = NamingConvention()  # dlt's default naming of columns and child tables


def _value(key: str, value: Any) -> Any:
    if isinstance(value, str) and key.endswith(("_at", "_time")):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return value
    return value


def _flatten(obj: Mapping[str, Any], table: str, prefix: str = "") -> dict[str, Any]:
    """Return {"row": {...}, "children": {child_table: [tree, ...]}} for one object."""
    row: dict[str, Any] = {}
    children: dict[str, list[Any]] = {}
    for key, value in obj.items():
        name = f"{prefix}{SNAKE_CASE.normalize_identifier(key)}"  # conferenceCallInfo -> ...
        if isinstance(value, dict):
            nested = _flatten(value, table, f"{name}__")
            row.update(nested["row"])
            for child, trees in nested["children"].items():
                children.setdefault(child, []).extend(trees)
        elif isinstance(value, list):
            child_table = f"{table}__{name}"
            trees = [
                _flatten(item, child_table)
                if isinstance(item, dict)
                else {"row": {"value": item}, "children": {}}
                for item in value
            ]
            if trees:
                children[child_table] = trees
        elif value is not None:
            row[name] = _value(name, value)
    return {"row": row, "children": children}


def expected_tree(objects: Iterable[Mapping[str, Any]], table: str) -> dict[str, Any]:
    """Every object of a table, by uri, flattened like dlt."""
    return {obj["uri"]: _flatten(obj, table) for obj in objects}


# ---- rebuilding the same shape from the destination -------------------------------


def _normalize(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client, client.execute_query(sql) as cursor:
        return [tuple(row) for row in cursor.fetchall()]


def table_rows(pipeline: dlt.Pipeline, table: str) -> list[dict[str, Any]]:
    """All rows of a raw table; none when it was never created (no data yet)."""
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table)
            with client.execute_query(f"select * from {qualified}") as cursor:
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except DatabaseUndefinedRelation:
        return []


def _children_by_table(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for name, info in pipeline.default_schema.tables.items():
        if info.get("parent"):
            children.setdefault(info["parent"], []).append(name)
    return children


def _tree(
    pipeline: dlt.Pipeline, table: str, rows: list[dict[str, Any]], cache: dict[str, Any]
) -> list[dict[str, Any]]:
    if "_children" not in cache:
        cache["_children"] = _children_by_table(pipeline)
    trees = []
    for row in rows:
        clean = {
            key: _normalize(value)
            for key, value in row.items()
            if not key.startswith("_dlt_") and key not in IGNORED_COLUMNS and value is not None
        }
        children: dict[str, list[Any]] = {}
        for child in cache["_children"].get(table, []):
            if child not in cache:
                cache[child] = {}
                for child_row in table_rows(pipeline, child):
                    cache[child].setdefault(child_row["_dlt_parent_id"], []).append(child_row)
            mine = sorted(cache[child].get(row["_dlt_id"], []), key=lambda r: r["_dlt_list_idx"])
            if mine:
                children[child] = _tree(pipeline, child, mine, cache)
        trees.append({"row": clean, "children": children})
    return trees


def loaded_tree(pipeline: dlt.Pipeline, table: str, *, live_only: bool = True) -> dict[str, Any]:
    """Every loaded row of a table (live ones by default), by uri, with its children.

    Fails when a uri was loaded more than once (deleted rows included): a merge
    on ``uri`` must never leave duplicates.
    """
    rows = table_rows(pipeline, table)
    counts = Counter(row["uri"] for row in rows)
    duplicated = sorted(uri for uri, count in counts.items() if count > 1)[:5]
    assert not duplicated, f"{table}: rows loaded more than once: {duplicated}"
    if live_only:
        rows = [row for row in rows if not row.get("is_deleted")]
    trees = _tree(pipeline, table, rows, {})
    return {tree["row"]["uri"]: tree for tree in trees}


def diff_trees(expected: dict[str, Any], loaded: dict[str, Any], limit: int = 5) -> list[str]:
    """Human-readable differences (empty when equal)."""
    problems = [f"missing {uri}" for uri in sorted(set(expected) - set(loaded))[:limit]]
    problems += [f"unexpected {uri}" for uri in sorted(set(loaded) - set(expected))[:limit]]
    for uri in sorted(set(expected) & set(loaded)):
        if expected[uri] != loaded[uri]:
            problems.append(f"differs {uri}: {_first_difference(expected[uri], loaded[uri])}")
            if len(problems) >= limit:
                break
    return problems


def _first_difference(left: Any, right: Any, path: str = "") -> str:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                return _first_difference(left.get(key), right.get(key), f"{path}.{key}")
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{index}]")
    return f"{path}: expected {left!r}, loaded {right!r}"


# ---- what the simulator holds, per table -------------------------------------------


def expected_tables(store: Store) -> dict[str, dict[str, Any]]:
    """The simulator's ground truth for every raw table of an organization-scope load."""
    hosts = {m["user"] for e in store.events.values() for m in e.get("event_memberships", [])}
    users = [u for uuid, u in store.users.items() if uuid in store.roles or u["uri"] in hosts]
    hooks = [h for h in store.webhook_subscriptions.values() if h["scope"] == "organization"]
    sources: dict[str, Iterable[Mapping[str, Any]]] = {
        "scheduled_events": store.events.values(),
        "invitees": store.invitees.values(),
        "users": users,
        "organization_memberships": store.organization_memberships.values(),
        "groups": store.groups.values(),
        "event_types": store.event_types.values(),
        "routing_forms": store.routing_forms.values(),
        "routing_form_submissions": store.routing_form_submissions.values(),
        "webhook_subscriptions": hooks,
    }
    return {table: expected_tree(objects, table) for table, objects in sources.items()}


def _named_like(tree: dict[str, Any], naming: Any) -> dict[str, Any]:
    """``tree`` with its child-table names shortened as the destination's naming does
    (PostgreSQL: at most 63 characters, the tail replaced by a hash)."""
    children = {
        naming.shorten_identifier(table, table, naming.max_length): [
            _named_like(child, naming) for child in trees
        ]
        for table, trees in tree["children"].items()
    }
    return {"row": tree["row"], "children": children}


def assert_matches_store(
    pipeline: dlt.Pipeline, store: Store, tables: Iterable[str] | None = None
) -> None:
    expected = expected_tables(store)
    naming = pipeline.default_schema.naming
    for table in tables or expected:
        wanted = {uri: _named_like(tree, naming) for uri, tree in expected[table].items()}
        problems = diff_trees(wanted, loaded_tree(pipeline, table))
        assert not problems, f"{table}: {problems}"


def first(items: Iterable[Any], predicate: Callable[[Any], bool]) -> Any:
    return next(item for item in items if predicate(item))


def uuid(uri: str) -> str:
    return uuid_of(uri)
