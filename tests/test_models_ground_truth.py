"""Every mart equals the simulator's ground truth, row for row and value for value.

The organization is extracted by the real source over the in-process
simulator, the models are built for an ``as_of``, and each mart is compared
with ``compute_ground_truth(store, as_of)`` (plain Python over the store):
same rows, same values, rates and hours to 1e-9.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest
from model_fixtures import MART_KEYS, duckdb_pipeline, fetch_rows, load_store

from pipelines.models.runner import build_models, run_sql_tests
from pipelines.simulator.generator import DEFAULT_NOW, generate_organization
from pipelines.simulator.ground_truth import GroundTruth, compute_ground_truth
from pipelines.simulator.store import Store

TOLERANCE = 1e-9


def _sort_key(row: dict[str, Any], mart: str) -> tuple[str, ...]:
    return tuple(str(row[column]) for column in MART_KEYS[mart])


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return (
            expected is not None
            and actual is not None
            and math.isclose(expected, actual, rel_tol=0, abs_tol=TOLERANCE)
        )
    if isinstance(expected, datetime):
        return (
            isinstance(actual, datetime) and actual.utcoffset() is not None and expected == actual
        )
    if isinstance(expected, date):
        return type(actual) is date and expected == actual
    return bool(expected == actual)


def assert_mart_equals(pipeline: dlt.Pipeline, mart: str, expected: list[dict[str, Any]]) -> None:
    actual = sorted(fetch_rows(pipeline, mart), key=lambda row: _sort_key(row, mart))
    expected = sorted(expected, key=lambda row: _sort_key(row, mart))
    assert [_sort_key(row, mart) for row in actual] == [_sort_key(row, mart) for row in expected]
    for want, got in zip(expected, actual, strict=True):
        assert set(got) == set(want), mart
        differing = {
            column: (value, got[column])
            for column, value in want.items()
            if not _same(value, got[column])
        }
        assert not differing, (mart, _sort_key(want, mart), differing)


def assert_marts_equal_ground_truth(pipeline: dlt.Pipeline, truth: GroundTruth) -> None:
    assert truth.bookings, "the ground truth has no bookings; the comparison would prove nothing"
    assert_mart_equals(pipeline, "fct_bookings", truth.bookings)
    assert_mart_equals(pipeline, "metrics_utm_attribution", truth.utm_attribution)
    assert_mart_equals(pipeline, "metrics_no_shows", truth.no_shows)
    assert_mart_equals(pipeline, "metrics_cancellations", truth.cancellations)


def _loaded(folder: Path, store: Store) -> dlt.Pipeline:
    pipeline = duckdb_pipeline(folder)
    load_store(pipeline, store)
    return pipeline


@pytest.fixture(scope="session")
def medium_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[dlt.Pipeline, Store]:
    store = generate_organization(seed=7, size="medium")
    return _loaded(tmp_path_factory.mktemp("medium"), store), store


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_small_organization_marts_equal_ground_truth(tmp_path: Path, seed: int) -> None:
    store = generate_organization(seed=seed, size="small")
    pipeline = _loaded(tmp_path, store)
    for as_of in (DEFAULT_NOW, DEFAULT_NOW - timedelta(days=45, hours=3, microseconds=7)):
        build_models(pipeline, as_of=as_of)
        assert_marts_equal_ground_truth(pipeline, compute_ground_truth(store, as_of))
    outcomes = {row["outcome"] for row in fetch_rows(pipeline, "fct_bookings")}
    assert outcomes == {"completed", "no_show", "canceled", "upcoming"}


@pytest.mark.slow
def test_medium_organization_marts_equal_ground_truth(
    medium_warehouse: tuple[dlt.Pipeline, Store],
) -> None:
    pipeline, store = medium_warehouse
    result = build_models(pipeline, as_of=DEFAULT_NOW, run_tests=True)
    assert result.test_failures == []
    truth = compute_ground_truth(store, DEFAULT_NOW)
    assert len(truth.bookings) > 10_000
    assert_marts_equal_ground_truth(pipeline, truth)
    assert run_sql_tests(pipeline) == []
