"""DuckDB's memory: capped by default, the user's settings replace ours, builds never starve.

DuckDB's own default limit is 80% of the machine's memory, up to which it
keeps blocks cached; a large organization's run peaked at twice a medium one's.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from model_fixtures import load_store
from source_harness import make_harness

from calendly_elt import duckdb_memory
from calendly_elt.duckdb_memory import DEFAULT_MEMORY_LIMIT
from calendly_elt.models.errors import ModelBuildError
from calendly_elt.models.runner import build_models
from calendly_elt.runner import ExtractionError, make_pipeline
from calendly_elt.simulator import generate_organization


def _settings(database: Path) -> tuple[str, str]:
    pipeline = make_pipeline(duckdb_path=database)
    with pipeline.sql_client() as client:
        (row,) = client.execute_sql(
            "select current_setting('memory_limit'), current_setting('threads')::varchar"
        )
    return row[0], row[1]


def _mib(setting: str) -> float:
    number, unit = setting.split()
    return float(number) * {"MiB": 1, "GiB": 1024}[unit]


def test_our_duckdb_connections_have_a_memory_limit(tmp_path: Path) -> None:
    assert DEFAULT_MEMORY_LIMIT == "256MB"
    limit, _ = _settings(tmp_path / "warehouse.duckdb")
    assert _mib(limit) == pytest.approx(256 * 1000**2 / 1024**2, abs=0.1)  # 244.1 MiB


def test_a_configured_global_config_replaces_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1GB", "threads": 1}'
    )
    limit, threads = _settings(tmp_path / "warehouse.duckdb")
    assert _mib(limit) == pytest.approx(1000**3 / 1024**2, abs=0.1) and threads == "1"


def test_the_toml_key_is_read_too(tmp_path: Path) -> None:
    """In a fresh process: dlt reads ``.dlt/config.toml`` of the working folder once."""
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[destination.duckdb.credentials.global_config]\nmemory_limit = "100MB"\n'
    )
    probe = (
        "from pathlib import Path\n"
        "from test_duckdb_memory import _settings\n"
        "print(_settings(Path('warehouse.duckdb'))[0])\n"
    )
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _mib(done.stdout.strip()) == pytest.approx(100 * 1000**2 / 1024**2, abs=0.1)


AS_OF = datetime(2026, 1, 15, tzinfo=UTC)


@pytest.fixture
def loaded_tiny(tmp_path: Path) -> Path:
    database = tmp_path / "warehouse.duckdb"
    load_store(make_pipeline(duckdb_path=database), generate_organization(seed=7, size="tiny"))
    return database


def test_a_model_build_too_big_for_our_limit_is_rebuilt_with_duckdbs_own(
    loaded_tiny: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    expected = build_models(make_pipeline(duckdb_path=loaded_tiny), as_of=AS_OF)
    monkeypatch.setattr(duckdb_memory, "DEFAULT_MEMORY_LIMIT", "1MB")  # the marts need more
    pipeline = make_pipeline(duckdb_path=loaded_tiny)
    with caplog.at_level(logging.WARNING):
        built = build_models(pipeline, as_of=AS_OF)
    assert "the model build needed more than DuckDB's 1MB limit; rebuilding" in caplog.text
    assert [model.name for model in built.models] == [model.name for model in expected.models]
    with pipeline.sql_client() as client:
        (row,) = client.execute_sql("select count(*) from calendly_analytics.fct_bookings")
    assert row[0] > 0


def test_a_configured_limit_too_small_fails_the_build_naming_the_key(
    loaded_tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1MB"}')
    with pytest.raises(ModelBuildError) as caught:
        build_models(make_pipeline(duckdb_path=loaded_tiny), as_of=AS_OF)
    message = str(caught.value)
    assert "previous marts left unchanged: Out of Memory Error" in message
    assert message.endswith("raise memory_limit in [destination.duckdb.credentials.global_config]")


def test_a_load_out_of_memory_fails_the_run_with_the_key_to_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1MB"}')
    harness = make_harness(tmp_path, "tiny")
    with pytest.raises(ExtractionError) as caught:
        harness.run(harness.pipeline())
    message = str(caught.value)
    assert message.startswith("loading into duckdb ") and "Out of Memory Error" in message
    assert message.endswith(
        "; DuckDB ran out of memory: raise memory_limit in "
        "[destination.duckdb.credentials.global_config]"
    )
