"""A backfill under Calendly-style 429 bursts, 5xx and dropped connections completes.

Bursts longer than the 5xx retry count (8 consecutive 429s against 6 retries)
plus 5% 5xx and 1% dropped connections, on ``small``, through
``run_extraction`` with the default retry settings; the in-process simulator
and one fake clock make every wait instant.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from fakes import FakeClock
from source_harness import SourceHarness, assert_matches_store, make_harness

from calendly_elt.simulator.faults import Fault, FaultConfig

BURST = 8  # consecutive 429s: more than the 6 retries a 5xx gets


def count_faults(harness: SourceHarness) -> Counter[object]:
    injected: Counter[object] = Counter()
    draw = harness.sim.faults.next_fault

    def counting() -> Fault:
        fault = draw()
        injected["dropped" if fault.drop else fault.status] += 1
        return fault

    harness.sim.faults.next_fault = counting  # type: ignore[method-assign]
    return injected


def test_a_backfill_under_429_bursts_5xx_and_drops_loads_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(10_000.0)
    faults = FaultConfig(
        seed=11,
        error_rate=0.05,
        drop_rate=0.01,
        burst_every=120,
        burst_length=BURST,
        burst_reset_seconds=2,
    )
    harness = make_harness(tmp_path, "small", faults=faults, monotonic=clock)
    harness.client_options = {"sleep": clock.sleep, "clock": clock}  # default retries
    injected = count_faults(harness)
    caplog.set_level(logging.INFO, logger="calendly_elt")

    pipeline = harness.pipeline()
    summary = harness.run(pipeline)

    assert injected[429] >= 3 * BURST  # several whole bursts were met
    assert injected["dropped"] > 0 and sum(injected[s] for s in (500, 502, 503)) > 0
    assert summary.events == len(harness.store.events)
    assert_matches_store(pipeline, harness.store)
    waits = [r for r in caplog.records if "rate limited by Calendly (429); waiting" in r.message]
    assert len(waits) == injected[429]
    assert {record.levelno for record in waits} == {logging.INFO}
    assert all("waiting 2.0 s (X-RateLimit-Reset)" in record.getMessage() for record in waits)


# --- loaded packages do not keep personal data -------------------------------------------


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_after_two_runs_the_pipelines_folder_keeps_no_loaded_rows(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, "small")
    pipeline = harness.pipeline()
    harness.run(pipeline)
    harness.run(pipeline)
    folder = Path(pipeline.working_dir)
    loaded = folder / "load" / "loaded"
    assert len(list(loaded.iterdir())) >= 2  # two runs' packages were loaded ...
    assert not [path for path in _files(loaded) if "completed_jobs" in path.parts]  # ... emptied
    emails = {invitee["email"] for invitee in harness.store.invitees.values()}
    assert len(emails) > 10
    for path in _files(folder):
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not [email for email in emails if email in text], path


def test_keeping_loaded_files_is_a_dlt_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    harness = make_harness(tmp_path, "tiny")
    pipeline = harness.pipeline()
    harness.run(pipeline)
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    assert [path for path in _files(loaded) if "completed_jobs" in path.parts]


def _gzipped(paths: list[Path]) -> set[bool]:
    return {path.read_bytes()[:2] == b"\x1f\x8b" for path in paths}


@pytest.mark.parametrize("configured, gzipped", [(None, False), ("false", True)])
def test_intermediate_files_are_plain_unless_compression_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None, gzipped: bool
) -> None:
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    if configured is not None:
        monkeypatch.setenv("DATA_WRITER__DISABLE_COMPRESSION", configured)
    harness = make_harness(tmp_path, "tiny")
    pipeline = harness.pipeline()
    harness.run(pipeline)
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    # parquet and sql jobs carry no gzip layer either way; the state's jsonl does
    jobs = [path for path in _files(loaded) if "completed_jobs" in path.parts
            and path.suffix not in (".parquet", ".sql")]  # fmt: skip
    assert jobs and _gzipped(jobs) == {gzipped}
