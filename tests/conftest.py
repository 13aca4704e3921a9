"""Shared fixtures. Helpers for the source tests live in ``tests/source_harness.py``."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from source_harness import SourceHarness, make_harness

from calendly_elt.simulator import generate_organization
from calendly_elt.simulator.store import Store

# dlt's anonymous telemetry stays off in the suite (and in the CLIs it starts as subprocesses)
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture
def small_harness(tmp_path: Path) -> SourceHarness:
    """A fresh ``small`` organization (~1k events), its simulator and a DuckDB folder."""
    return make_harness(tmp_path, "small")


@pytest.fixture
def tiny_harness(tmp_path: Path) -> SourceHarness:
    """A fresh ``tiny`` organization (50 events)."""
    return make_harness(tmp_path, "tiny")


@pytest.fixture(scope="session")
def medium_store() -> Store:
    """The ``medium`` organization (~20k events), generated once per session.

    Only one test uses it (``test_incremental_medium.py``), and it mutates it.
    """
    return generate_organization(seed=7, size="medium")


POSTGRES_DSN_VARIABLE = "CALENDLY_ELT_TEST_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The test PostgreSQL server (``scripts/test-postgres.sh start``).

    Skips when unset, except under CI, where a missing server is a failure.
    dlt insists on a password; the local test server trusts any, so one is
    filled in when the DSN has none.
    """
    dsn = os.environ.get(POSTGRES_DSN_VARIABLE)
    if not dsn:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_DSN_VARIABLE} must be set in CI")
        pytest.skip(f"{POSTGRES_DSN_VARIABLE} not set")
    parts = urlsplit(dsn)
    if parts.password or not parts.username:
        return dsn
    netloc = f"{parts.username}:unused@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="session")
def demo_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB file ``calendly-elt demo`` makes (seed 7, ``small``), made once per session.

    Read it only (the notebook, the HTML report, the README's queries).
    """
    from calendly_elt.cli.main import main

    database = tmp_path_factory.mktemp("demo") / "calendly_warehouse.duckdb"
    assert main(["demo", "--duckdb", str(database)]) == 0
    return database


# The longest tests go first, so that with pytest-xdist (./dev test: -n 3, work stealing)
# they run beside the rest rather than after it: the soak alone takes 3-4 minutes.
LONGEST_FIRST = (
    "test_soak.py",
    "test_no_show_rechecks.py::test_daily_runs",
    "test_no_show_rechecks.py::test_hourly_runs",
    "test_incremental.py::test_each_kind_of_change",
    "test_source_properties.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reorder: the tests named in ``LONGEST_FIRST`` first, the rest as collected."""

    def rank(item: pytest.Item) -> int:
        for position, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.removeprefix("tests/").startswith(prefix):
                return position
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: collection order within a rank
