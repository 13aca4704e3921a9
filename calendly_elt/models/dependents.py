"""Keep analysts' views on the models across a rebuild (PostgreSQL).

A rebuild drops and recreates every model. On PostgreSQL ``drop ... cascade``
also drops every view that reads a model, wherever it lives, so the views
analysts build on the marts would vanish at each scheduled run. Before the
build, the definitions of those views (and of views on them, to any depth) are
saved; after it, in the same transaction, they are created again in dependency
order. A view that can no longer be created (it reads a column that is gone)
fails the build, which rolls back: nothing is lost either way. Grants and
comments on those views are not carried over.

DuckDB binds views when they are queried, so its views survive the rebuild
without help; other destinations are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# Views (relkind v) and materialized views (m) reading a relation of `schema`,
# then the views reading those, to any depth; our own models are excluded.
DEPENDENT_VIEWS_SQL = """
with recursive dependents (view_oid, depth) as (
    select distinct rewrite.ev_class, 1
    from pg_depend as dependency
    join pg_rewrite as rewrite on rewrite.oid = dependency.objid
    join pg_class as used on used.oid = dependency.refobjid
    join pg_namespace as used_schema on used_schema.oid = used.relnamespace
    where dependency.classid = 'pg_rewrite'::regclass
        and dependency.refclassid = 'pg_class'::regclass
        and used_schema.nspname = %s
        and rewrite.ev_class <> used.oid
    union all
    select rewrite.ev_class, dependents.depth + 1
    from dependents
    join pg_depend as dependency on dependency.refobjid = dependents.view_oid
    join pg_rewrite as rewrite on rewrite.oid = dependency.objid
    where dependency.classid = 'pg_rewrite'::regclass
        and dependency.refclassid = 'pg_class'::regclass
        and rewrite.ev_class <> dependents.view_oid
        and dependents.depth < 50
)
select view_schema.nspname, view.relname, view.relkind = 'm', pg_get_viewdef(view.oid)
from dependents
join pg_class as view on view.oid = dependents.view_oid
join pg_namespace as view_schema on view_schema.oid = view.relnamespace
where view.relkind in ('v', 'm')
group by view_schema.nspname, view.relname, view.relkind, view.oid
order by max(dependents.depth), view_schema.nspname, view.relname
"""


@dataclass(frozen=True)
class DependentView:
    """A view (or materialized view) that reads one of the models."""

    schema: str
    name: str
    materialized: bool
    definition: str

    def create_sql(self) -> str:
        """The statement that creates this view again."""
        kind = "materialized view" if self.materialized else "view"
        return f'create {kind} "{self.schema}"."{self.name}" as {self.definition}'


def save_dependent_views(client: Any, schema: str, model_names: set[str]) -> list[DependentView]:
    """The views outside the models that read ``schema``, creation order first.

    Args:
        client: an open dlt SQL client, inside the build's transaction.
        schema: the analytics schema the models live in.
        model_names: the models' own relation names (never saved).

    Returns:
        The views to create again after the build; empty on other destinations.
    """
    if client.capabilities.sqlglot_dialect != "postgres":
        return []
    rows = client.execute_sql(DEPENDENT_VIEWS_SQL, schema) or []
    views = [
        DependentView(view_schema, name, bool(materialized), definition.rstrip().rstrip(";"))
        for view_schema, name, materialized, definition in rows
        if not (view_schema == schema and name in model_names)
    ]
    if views:
        logger.info("keeping %d view(s) that read the models: %s", len(views),
                    ", ".join(f"{view.schema}.{view.name}" for view in views))  # fmt: skip
    return views


def restore_dependent_views(client: Any, views: list[DependentView]) -> None:
    """Create the saved views again (those a cascade dropped), in creation order."""
    for view in views:
        if not _exists(client, view):
            client.execute_sql(view.create_sql())


def _exists(client: Any, view: DependentView) -> bool:
    rows = client.execute_sql(
        "select 1 from pg_class join pg_namespace on pg_namespace.oid = pg_class.relnamespace"
        " where pg_namespace.nspname = %s and pg_class.relname = %s",
        view.schema,
        view.name,
    )
    return bool(rows)
