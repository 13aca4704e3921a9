"""dbt's generic tests, rendered to SQL by the embedded runner.

A ``schema.yml`` declares ``unique``, ``not_null``, ``accepted_values`` and
``relationships`` tests next to their columns, as dbt does. dbt compiles them
from its own macros; this module renders the same queries (as dbt-core's
default implementations write them), named as dbt names them, so a failing
test reads the same in ``calendly-elt models --test`` and in ``dbt test``.
Each query returns the offending rows: zero rows is a pass.
"""

from __future__ import annotations

import re
from typing import Any

from calendly_elt.models.errors import ModelDefinitionError
from calendly_elt.models.project import DeclaredTest

_TO_REF = re.compile(r"\s*ref\(\s*['\"]([a-z0-9_]+)['\"]\s*\)\s*")


def generic_test_name(test: DeclaredTest) -> str:
    """The name dbt gives the test, e.g. ``unique_fct_bookings_booking_id``.

    dbt joins the test's kind, the model and its arguments sorted by name
    (``column_name`` among them), each cleaned to ``[0-9a-zA-Z_]``.
    """
    arguments: dict[str, Any] = {**test.arguments, "column_name": test.column}
    parts: list[str] = []
    for key in sorted(arguments):
        value = arguments[key]
        values = list(value.values()) if isinstance(value, dict) else value
        parts.extend(str(part) for part in (values if isinstance(values, list) else [values]))
    cleaned = "__".join(re.sub("[^0-9a-zA-Z_]+", "_", part) for part in parts)
    return f"{test.kind}_{test.model}_{cleaned}"


def generic_test_sql(test: DeclaredTest, where: str) -> str:
    """The test's query as a template (``{{ ref() }}`` placeholders), dbt's SQL.

    Args:
        test: the declared test.
        where: the schema file declaring it (named in errors).

    Raises:
        ModelDefinitionError: a test kind other than the four built-in ones, or
            arguments they do not take.
    """
    model, column = f"{{{{ ref('{test.model}') }}}}", test.column
    if test.kind == "not_null":
        return f"select *\nfrom {model}\nwhere {column} is null"
    if test.kind == "unique":
        return (
            f"select {column} as unique_field, count(*) as n_records\nfrom {model}\n"
            f"where {column} is not null\ngroup by {column}\nhaving count(*) > 1"
        )
    if test.kind == "accepted_values":
        return _accepted_values(test, model, where)
    if test.kind == "relationships":
        return _relationships(test, model, where)
    raise ModelDefinitionError(
        f"{where}: test {test.kind!r} on {test.model}.{column} is not one of the generic "
        "tests the embedded runner renders (unique, not_null, accepted_values, relationships)"
    )


def _accepted_values(test: DeclaredTest, model: str, where: str) -> str:
    values = test.arguments.get("values")
    if not isinstance(values, list) or not values:
        raise ModelDefinitionError(f"{where}: accepted_values on {test.model} needs `values`")
    quoted = ", ".join("'" + str(value).replace("'", "''") + "'" for value in values)
    return (
        f"with all_values as (\n    select {test.column} as value_field, count(*) as n_records\n"
        f"    from {model}\n    group by {test.column}\n)\n\nselect *\nfrom all_values\n"
        f"where value_field not in ({quoted})"
    )


def _relationships(test: DeclaredTest, model: str, where: str) -> str:
    target = _TO_REF.fullmatch(str(test.arguments.get("to", "")))
    field = test.arguments.get("field")
    if target is None or not isinstance(field, str):
        raise ModelDefinitionError(
            f"{where}: relationships on {test.model}.{test.column} needs "
            "`to: ref('model')` and `field`"
        )
    return (
        f"with child as (\n    select {test.column} as from_field\n    from {model}\n"
        f"    where {test.column} is not null\n),\n\nparent as (\n"
        f"    select {field} as to_field\n    from {{{{ ref('{target[1]}') }}}}\n)\n\n"
        "select from_field\nfrom child\nleft join parent\n"
        "    on child.from_field = parent.to_field\nwhere parent.to_field is null"
    )
