"""sql/ as a dbt project, read without dbt: the template subset, tests, contract, profiles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dlt
import pytest
import yaml
from model_fixtures import MART_KEYS

from calendly_elt.calendly.settings import COLUMN_HINTS
from calendly_elt.cli.main import main
from calendly_elt.models import dbt_build
from calendly_elt.models.catalog import LAYERS, load_catalog
from calendly_elt.models.contract import undeclared_reads
from calendly_elt.models.dbt_build import DbtNotInstalledError, dbt_profile
from calendly_elt.models.errors import ModelDefinitionError
from calendly_elt.models.project import SQL_ROOT, project_vars, source_columns

DLT_COLUMNS = {"_dlt_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_load_id"}
# child tables dlt creates from nested lists; their columns are listed in the
# docstring under COLUMN_HINTS (calendly_elt/calendly/settings.py), not in it
CHILD_TABLE_COLUMNS = {
    "scheduled_events__event_memberships": {"user", "user_email", "user_name"},
    "routing_forms__questions": {"uuid", "name", "type", "required"},
    "routing_form_submissions__questions_and_answers": {"question_uuid", "question", "answer"},
}
GENERIC_KINDS = ("unique", "not_null", "accepted_values", "relationships")
SINGULAR_PREFIXES = ("reconciliation__", "consistency__", "unique_combination__")


def _contract_columns(table: str) -> set[str]:
    if table in COLUMN_HINTS:
        return set(COLUMN_HINTS[table]) | DLT_COLUMNS
    parent = table.split("__", 1)[0]
    assert parent in COLUMN_HINTS, f"{table} is neither a contract table nor a child of one"
    return CHILD_TABLE_COLUMNS.get(table, set()) | DLT_COLUMNS


def test_sources_yml_declares_only_contract_columns_of_the_tables_staging_reads() -> None:
    declared = source_columns()
    assert set(declared) == load_catalog().sources
    for table, columns in declared.items():
        assert set(columns) <= _contract_columns(table), (
            table,
            set(columns) - _contract_columns(table),
        )


def test_staging_reads_only_declared_columns_and_contract_columns() -> None:
    catalog = load_catalog()
    assert undeclared_reads(catalog, source_columns()) == []
    contract = {table: tuple(_contract_columns(table)) for table in catalog.sources}
    assert undeclared_reads(catalog, contract) == []


def test_a_staging_model_reading_an_undeclared_column_is_reported() -> None:
    catalog = load_catalog()
    users = catalog.model("stg_calendly__users")
    reading_more = dataclasses.replace(
        users, sql=users.sql.replace("cast(slug as varchar)", "cast(avatar_url as varchar)")
    )
    broken = dataclasses.replace(
        catalog, models=tuple(reading_more if m.name == users.name else m for m in catalog.models)
    )
    problems = undeclared_reads(broken, source_columns())
    assert len(problems) == 1
    assert problems[0].startswith("stg_calendly__users: Column 'avatar_url'")
    # a contract column sources.yml does not declare is refused too
    declared = dict(source_columns())
    declared["invitees"] = tuple(c for c in declared["invitees"] if c != "tracking__utm_term")
    assert [p.split(":")[0] for p in undeclared_reads(catalog, declared)] == [
        "stg_calendly__invitees"
    ]


def test_sql_tests_folder_holds_only_singular_tests() -> None:
    files = sorted((SQL_ROOT / "tests").glob("*.sql"))
    assert files and all(path.stem.startswith(SINGULAR_PREFIXES) for path in files)
    for path in files:
        if path.stem.startswith("unique_combination__"):
            group_by = path.read_text().split("group by", 1)[1].split("\n")[0]
            assert "," in group_by, f"{path.name}: one column is a generic `unique` test"


def test_every_mart_key_is_declared_next_to_its_columns() -> None:
    generic = {test.name for test in load_catalog().tests if test.generic}
    singular = {path.stem for path in (SQL_ROOT / "tests").glob("*.sql")}
    for mart, key in MART_KEYS.items():
        for column in key:
            assert f"not_null_{mart}_{column}" in generic, (mart, column)
        if len(key) == 1:
            assert f"unique_{mart}_{key[0]}" in generic, mart
        else:
            assert f"unique_combination__{mart}" in singular, mart


def test_generic_tests_are_named_and_written_as_dbt_writes_them() -> None:
    tests = {test.name: test for test in load_catalog().tests}
    outcome = tests["accepted_values_fct_bookings_outcome__completed__no_show__canceled__upcoming"]
    assert (
        "where value_field not in ('completed', 'no_show', 'canceled', 'upcoming')" in outcome.sql
    )
    host = tests["relationships_fct_bookings_host_user_uri__user_uri__ref_dim_users_"]
    assert host.refs == {"fct_bookings", "dim_users"} and host.generic
    assert "where host_user_uri is not null" in host.sql
    kinds = {name.split("_fct_")[0] for name in tests if tests[name].generic and "_fct_" in name}
    assert kinds <= set(GENERIC_KINDS)


def _project(root: Path, model_sql: str, schema_yml: str = "") -> Path:
    for layer in (*LAYERS, "tests"):
        (root / layer).mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: x\nvars:\n  known: 3\n")
    (root / "staging" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: calendly\n    tables:\n      - name: users\n"
    )
    (root / "staging" / "stg_calendly__users.sql").write_text(model_sql)
    if schema_yml:
        (root / "staging" / "schema.yml").write_text(schema_yml)
    return root


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ config(materialized='table') }} select 1", "unsupported template"),
        ("{% if true %} select 1 {% endif %}", "unsupported template"),
        ("select {{ var('unknown') }}", "undeclared var 'unknown'"),
        ("select * from {{ source('salesforce', 'users') }}", "unknown source 'salesforce'"),
        ("select * from {{ source('calendly', 'groups') }}", "not declared in sql/staging"),
    ],
)
def test_a_template_outside_the_rendered_subset_fails_naming_the_file(
    tmp_path: Path, template: str, problem: str
) -> None:
    root = _project(
        tmp_path / "sql", f"select * from {{{{ source('calendly', 'users') }}}} {template}"
    )
    with pytest.raises(ModelDefinitionError, match=problem) as raised:
        load_catalog(root)
    assert str(raised.value).startswith("sql/staging/stg_calendly__users.sql: ")


def test_vars_render_from_dbt_project_yml() -> None:
    assert project_vars()["max_chain_length"] == 1000
    chains = load_catalog().model("int_invitee_chains")
    assert "{{ var('max_chain_length') }}" in chains.sql


@pytest.mark.parametrize(
    ("schema_yml", "problem"),
    [
        ("models: []\n", "version: 2"),
        (
            "version: 2\nmodels:\n  - name: stg_calendly__users\n    columns:\n"
            "      - name: uri\n        data_tests: [dbt_utils.not_empty_string]\n",
            "not one of the generic tests",
        ),
        (
            "version: 2\nmodels:\n  - name: stg_calendly__users\n    columns:\n"
            "      - name: uri\n        data_tests:\n          - relationships: {to: users}\n",
            "needs `to: ref",
        ),
    ],
)
def test_a_schema_file_the_runner_cannot_follow_is_refused(
    tmp_path: Path, schema_yml: str, problem: str
) -> None:
    sql = "select uri from {{ source('calendly', 'users') }}"
    root = _project(tmp_path / "sql", sql, schema_yml)
    with pytest.raises(ModelDefinitionError, match=problem):
        load_catalog(root)


def test_the_dbt_profile_keeps_the_postgres_password_out_of_the_file(tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="profile_pg",
        destination=dlt.destinations.postgres(
            credentials="postgresql://loader:s3cret-pw@db.internal:6543/analytics"
        ),
        dataset_name="calendly_eu",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    profile, environment = dbt_profile(pipeline)
    output = profile["calendly_elt"]["outputs"]["postgres"]
    assert "s3cret-pw" not in yaml.safe_dump(profile)
    assert environment == {dbt_build.PASSWORD_VARIABLE: "s3cret-pw"}
    assert output["password"] == "{{ env_var('CALENDLY_ELT_DBT_PASSWORD') }}"
    assert (output["host"], output["port"], output["user"], output["dbname"]) == (
        "db.internal", 6543, "loader", "analytics"
    )  # fmt: skip
    assert output["schema"] == "calendly_eu_analytics"


def test_the_dbt_profile_for_duckdb_points_at_the_same_file(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="profile_duck",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="calendly",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    profile, environment = dbt_profile(pipeline)
    assert profile["calendly_elt"]["target"] == "duckdb" and environment == {}
    output = profile["calendly_elt"]["outputs"]["duckdb"]
    assert (output["path"], output["schema"]) == (str(database), "calendly_analytics")


def test_without_dbt_installed_the_dbt_path_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dbt_build.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DbtNotInstalledError, match=r"pip install 'calendly-elt\[dbt\]'"):
        dbt_build.check_dbt_installed("duckdb")


def test_models_with_an_unknown_builder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--with", "sqlmesh", "--duckdb", str(tmp_path / "w.duckdb")]) == 2
    assert "--with must be one of embedded, dbt" in capsys.readouterr().err
