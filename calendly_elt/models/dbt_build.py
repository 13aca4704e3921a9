"""Build the models with dbt instead of the embedded runner (``models --with dbt``).

Needs the optional extra (``pip install 'calendly-elt[dbt]'``: dbt-core,
dbt-duckdb, dbt-postgres). A ``profiles.yml`` is generated from the
pipeline's destination into a temporary folder (DuckDB: the same file;
PostgreSQL: host, port, user and database, the password only as an
``env_var()`` set in dbt's environment), then ``dbt build`` runs on ``sql/``
in a subprocess, with ``target/`` and ``logs/`` in that folder too. The
models land in ``<dataset>_analytics`` (the profile's schema) and read the
raw tables of the pipeline's dataset (var ``calendly_schema``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import yaml

from calendly_elt.errors import ConfigError
from calendly_elt.models.build_log import ModelBuild, log_build_of
from calendly_elt.models.errors import ModelBuildError
from calendly_elt.models.project import SQL_ROOT
from calendly_elt.models.runner import analytics_schema_of
from calendly_elt.models.transpile import as_of_text

logger = logging.getLogger(__name__)

PROFILE_NAME = "calendly_elt"  # the `profile:` of sql/dbt_project.yml
PASSWORD_VARIABLE = "CALENDLY_ELT_DBT_PASSWORD"
ADAPTERS = {"duckdb": "dbt.adapters.duckdb", "postgres": "dbt.adapters.postgres"}
PASSED = frozenset({"success", "pass"})
DBT_COMMANDS = ("build", "test")


class DbtNotInstalledError(ConfigError):
    """dbt, or its adapter for the destination, is not installed."""


@dataclass(frozen=True)
class DbtNodeResult:
    """One model or test dbt ran: its name, kind and status."""

    name: str
    resource_type: str
    status: str
    message: str = ""

    def __str__(self) -> str:
        return f"{self.resource_type} {self.name}: {self.status} ({self.message})"


@dataclass
class DbtBuildResult:
    """What ``dbt build`` did: every node's result, the as_of passed, the schema."""

    as_of: datetime
    analytics_schema: str
    nodes: list[DbtNodeResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[DbtNodeResult]:
        """Models that errored, tests that failed, and what they made dbt skip."""
        return [node for node in self.nodes if node.status not in PASSED]

    def count(self, resource_type: str) -> int:
        """How many nodes of ``resource_type`` (``model``, ``test``) ran."""
        return sum(node.resource_type == resource_type for node in self.nodes)


def destination_type(pipeline: dlt.Pipeline) -> str:
    """``duckdb`` or ``postgres``; dlt's destination name, without its module path."""
    destination = pipeline.destination
    return destination.destination_type.rsplit(".", 1)[-1] if destination else "duckdb"


def dbt_profile(pipeline: dlt.Pipeline) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``profiles.yml`` content for ``pipeline``'s destination, and dbt's env vars.

    The password never goes into the profile: it is read by ``env_var()`` from
    the returned environment, which only dbt's process gets.

    Raises:
        ConfigError: a destination other than DuckDB or PostgreSQL.
    """
    kind = destination_type(pipeline)
    credentials: Any = pipeline.destination_client().config.credentials
    output: dict[str, Any] = {"type": kind, "schema": analytics_schema_of(pipeline), "threads": 1}
    environment: dict[str, str] = {}
    if kind == "duckdb":
        output["path"] = str(Path(credentials.database).resolve())
    elif kind == "postgres":
        output.update(
            host=credentials.host,
            port=int(credentials.port or 5432),
            user=credentials.username,
            dbname=credentials.database,
            password=f"{{{{ env_var('{PASSWORD_VARIABLE}') }}}}",
        )
        environment[PASSWORD_VARIABLE] = str(credentials.password or "")
    else:
        raise ConfigError(f"--with dbt builds on duckdb or postgres, not on {kind}")
    return {PROFILE_NAME: {"target": kind, "outputs": {kind: output}}}, environment


def check_dbt_installed(kind: str) -> None:
    """Raise ``DbtNotInstalledError`` unless dbt-core and the adapter for ``kind`` import."""
    for module in ("dbt.cli.main", ADAPTERS.get(kind, "dbt")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise DbtNotInstalledError(
                f"{module} is not installed: pip install 'calendly-elt[dbt]' to build with dbt"
            )


def build_with_dbt(
    pipeline: dlt.Pipeline,
    *,
    as_of: datetime | None = None,
    command: str = "build",
    project_dir: Path = SQL_ROOT,
    work_dir: Path | None = None,
) -> DbtBuildResult:
    """Run ``dbt build`` (models, then their tests) on ``pipeline``'s destination.

    Args:
        pipeline: a dlt pipeline whose destination holds the raw tables.
        as_of: the instant outcomes are judged at (aware; default: now, UTC).
        command: ``build``, or ``test`` (only the tests, on the models as built).
        project_dir: the dbt project (``sql/``).
        work_dir: where dbt's profile, ``target/`` and ``logs/`` go (default:
            a temporary folder, removed afterwards).

    Returns:
        Every model and test dbt ran, with its status.

    Raises:
        DbtNotInstalledError: dbt or its adapter is missing.
        ModelBuildError: dbt stopped before running anything (parse or connection error).
    """
    if command not in DBT_COMMANDS:
        raise ConfigError(f"dbt command must be one of {', '.join(DBT_COMMANDS)}")
    kind = destination_type(pipeline)
    check_dbt_installed(kind)
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    result = DbtBuildResult(as_of=moment, analytics_schema=analytics_schema_of(pipeline))
    profile, environment = dbt_profile(pipeline)
    dbt_vars = {"as_of": as_of_text(moment), "calendly_schema": pipeline.dataset_name}
    with tempfile.TemporaryDirectory(prefix="calendly-dbt-") as scratch:
        folder = work_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        profiles = folder / "profiles.yml"
        profiles.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
        profiles.chmod(0o600)
        (folder / "target" / "run_results.json").unlink(missing_ok=True)  # a previous build's
        started = time.perf_counter()
        completed = _run_dbt(
            [command, *_folder_args(project_dir, folder), "--vars", json.dumps(dbt_vars)],
            environment | {"DBT_PACKAGES_INSTALL_PATH": str(folder / "dbt_packages")},
        )
        result.seconds = time.perf_counter() - started
        result.nodes = _read_run_results(folder / "target" / "run_results.json", completed)
    logger.info("dbt %s: %d nodes in %.2fs", command, len(result.nodes), result.seconds)
    if command == "build" and not result.failures and result.count("model"):
        built = ModelBuild(datetime.now(UTC), moment, "dbt", result.count("model"), result.seconds)
        log_build_of(pipeline, built)
    return result


def _folder_args(project_dir: Path, folder: Path) -> list[str]:
    return [
        "--project-dir", str(project_dir), "--profiles-dir", str(folder),
        "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
        "--threads", "1",
    ]  # fmt: skip


def _run_dbt(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dbt.cli.main", "--no-use-colors", *arguments]
    logger.debug("running %s", " ".join(command))
    env = os.environ | environment | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        logger.info("dbt: %s", line)
    return completed


def _read_run_results(
    path: Path, completed: subprocess.CompletedProcess[str]
) -> list[DbtNodeResult]:
    if not path.exists():
        lines = [line for line in (completed.stdout + completed.stderr).splitlines() if line]
        errors = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
        raise ModelBuildError(f"dbt stopped before building anything: {errors[-1].strip()}")
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        DbtNodeResult(
            name=entry["unique_id"].split(".")[2],
            resource_type=entry["unique_id"].split(".")[0],
            status=str(entry["status"]),
            message=str(entry.get("message") or ""),
        )
        for entry in document.get("results", [])
    ]
