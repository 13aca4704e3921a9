"""Shared fixtures. Helpers for the source tests live in ``tests/source_harness.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_harness import SourceHarness, make_harness

from pipelines.simulator import generate_organization
from pipelines.simulator.store import Store


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
