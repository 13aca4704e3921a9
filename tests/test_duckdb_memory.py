"""DuckDB's memory: capped by default, the user's DuckDB settings replace ours whole.

DuckDB's own default limit is 80% of the machine's memory, up to which it
keeps blocks cached; a large organization's run peaked at twice a medium one's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calendly_elt.runner import make_pipeline
from calendly_elt.runner.destination import DEFAULT_DUCKDB_MEMORY_LIMIT


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
    assert DEFAULT_DUCKDB_MEMORY_LIMIT == "256MB"
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
