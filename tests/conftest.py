"""Shared fixtures. Helpers for the source tests live in ``tests/source_harness.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_harness import SourceHarness, make_harness


@pytest.fixture
def small_harness(tmp_path: Path) -> SourceHarness:
    """A fresh ``small`` organization (~1k events), its simulator and a DuckDB folder."""
    return make_harness(tmp_path, "small")


@pytest.fixture
def tiny_harness(tmp_path: Path) -> SourceHarness:
    """A fresh ``tiny`` organization (50 events)."""
    return make_harness(tmp_path, "tiny")
