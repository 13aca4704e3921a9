"""Checkpoints: a backfill killed mid-way resumes where it stopped - no gap, no duplicate.

Also: expired page tokens restart a window, and runs under injected 429
bursts, 5xx and dropped connections end with the same data as a clean run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import FakeClock
from source_harness import (
    SourceHarness,
    assert_matches_store,
    expected_tables,
    loaded_tree,
    make_harness,
    query,
)

from calendly_elt.calendly import WindowProgress
from calendly_elt.runner import ExtractionError, PipelineLockedError, lock_path, pipeline_lock
from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.faults import Fault, FaultConfig

KILL_AFTER_WINDOWS = 12


class KilledError(RuntimeError):
    """Stands in for the process dying after a window."""


def _no_duplicates(pipeline: object, table: str) -> None:
    counts = query(pipeline, f"select count(*), count(distinct uri) from calendly.{table}")
    assert counts[0][0] == counts[0][1], f"duplicate rows in {table}"


def test_backfill_killed_after_a_window_resumes_without_gap_or_duplicate(
    small_harness: SourceHarness,
) -> None:
    pipeline = small_harness.pipeline()
    settings = small_harness.settings(checkpoint_events=1)  # commit after every window

    def die_after_window(update: WindowProgress) -> None:
        if update.windows_done == KILL_AFTER_WINDOWS:
            raise KilledError("process died")

    with pytest.raises(ExtractionError, match="process died"):
        small_harness.run(pipeline, settings=settings, progress=die_after_window)

    state = pipeline.state["sources"]["calendly"]
    crashed = state["run"]
    assert crashed["kind"] == "backfill"
    # the window being read when the process died was not committed
    assert crashed["windows_done"] == KILL_AFTER_WINDOWS - 1
    loaded_before = query(pipeline, "select count(*) from calendly.scheduled_events")[0][0]
    assert loaded_before == crashed["events"] > 0

    small_harness.sim.stats.reset()
    seen: list[WindowProgress] = []
    summary = small_harness.run(pipeline, settings=settings, progress=seen.append)

    assert summary.kind == "backfill"
    assert seen[0].windows_done == KILL_AFTER_WINDOWS  # resumed at the uncommitted window
    assert seen[0].window.start.isoformat() == crashed["next_start"]
    assert small_harness.sim.stats["GET /scheduled_events"] == 38 - (KILL_AFTER_WINDOWS - 1)
    for table in ("scheduled_events", "invitees"):
        _no_duplicates(pipeline, table)
    assert_matches_store(pipeline, small_harness.store)
    covered = pipeline.state["sources"]["calendly"]["covered"]
    assert len(covered) == 1  # one contiguous range: no gap


def test_killed_process_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    """A real process killed with SIGKILL mid-backfill; the next process finishes the job."""
    script = tmp_path / "backfill.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from pathlib import Path
            from source_harness import make_harness
            harness = make_harness(Path({str(tmp_path)!r}), "small")
            def slow(update):
                print(update.windows_done, flush=True)
                if sys.argv[1] == "slow" and update.windows_done >= 10:
                    time.sleep(60)
            harness.run(settings=harness.settings(checkpoint_events=1), progress=slow)
            print("done", flush=True)
            """
        )
    )
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "ERROR"}
    first = subprocess.Popen(
        [sys.executable, str(script), "slow"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert first.stdout is not None
    for line in first.stdout:
        if line.strip() == "10":
            time.sleep(0.5)
            break
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    second = subprocess.run(
        [sys.executable, str(script), "fast"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=True,
    )
    progress = second.stdout.split()
    assert progress[-1] == "done"
    assert 9 <= int(progress[0]) <= 11  # resumed at the killed window, not at window 1

    harness = make_harness(tmp_path, "small")
    pipeline = harness.pipeline()
    for table in ("scheduled_events", "invitees"):
        _no_duplicates(pipeline, table)
    assert_matches_store(pipeline, harness.store, ("scheduled_events", "invitees"))


def test_a_run_killed_between_normalize_commit_and_cleanup_does_not_wedge_the_next(
    tiny_harness: SourceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL after dlt renamed a package to normalized/ but before it deleted extracted/.

    The same load id then sits in both folders; re-normalizing it failed with
    ``Directory not empty`` on every later run (seen in the soak under CI).
    """
    pipeline = tiny_harness.pipeline()
    tiny_harness.run(pipeline)  # the warehouse has state: the next run does not start afresh
    simulate_day(tiny_harness.store, seed=3)
    extracted = Path(pipeline._get_normalize_storage().extracted_packages.storage.storage_path)
    real_normalize = pipeline.normalize
    left: list[str] = []

    def normalize_then_die(*args: object, **kwargs: object) -> object:
        kept = extracted.parent / "kept"
        shutil.copytree(extracted, kept)
        real_normalize(*args, **kwargs)  # commits: extracted/<id> -> normalized/<id>
        shutil.rmtree(extracted)
        kept.rename(extracted)  # ... but the cleanup never ran
        left.extend(pipeline.list_extracted_load_packages())
        raise KilledError("killed after the commit's rename")

    monkeypatch.setattr(pipeline, "normalize", normalize_then_die)
    with pytest.raises(ExtractionError, match="killed after the commit"):
        tiny_harness.run(pipeline)
    monkeypatch.undo()
    assert left and set(left) <= set(pipeline.list_normalized_load_packages())

    summary = tiny_harness.run(pipeline)

    assert summary.packages >= 2  # the half-committed package, then this run's own
    assert not pipeline.has_pending_data
    for table in ("scheduled_events", "invitees"):
        _no_duplicates(pipeline, table)
    assert_matches_store(pipeline, tiny_harness.store)


def test_expired_page_token_restarts_the_window(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, "small", page_token_ttl=timedelta(minutes=5))
    store = harness.store
    pipeline = harness.pipeline()
    settings = harness.settings(window_days=3650)  # one window of 10 pages
    original = harness.sim.transport()
    pages = {"count": 0}

    class AgeingTransport(type(original)):  # type: ignore[misc]
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            if request.url.path == "/scheduled_events" and "page_token" in str(request.url):
                pages["count"] += 1
                if pages["count"] == 1:
                    store.clock.advance(timedelta(minutes=10))  # the token has expired
            return super().handle_request(request)

    from calendly_elt.runner import run_extraction

    run_extraction(
        pipeline,
        settings,
        now=store.clock.now,
        transport=AgeingTransport(harness.sim),
    )
    assert pages["count"] >= 2
    assert len(loaded_tree(pipeline, "scheduled_events")) == len(store.events)
    _no_duplicates(pipeline, "scheduled_events")


def _count_faults(harness: SourceHarness) -> Counter[object]:
    """Count the faults the simulator injects: ``dropped``, or the status (429, 5xx)."""
    injected: Counter[object] = Counter()
    draw = harness.sim.faults.next_fault

    def counting() -> Fault:
        fault = draw()
        injected["dropped" if fault.drop else fault.status] += 1
        return fault

    harness.sim.faults.next_fault = counting  # type: ignore[method-assign]
    return injected


def test_runs_under_injected_faults_end_identical_to_a_clean_run(tmp_path: Path) -> None:
    clean = make_harness(tmp_path / "clean", "small")
    clean_pipeline = clean.pipeline()
    clean_requests = clean.run(clean_pipeline).requests

    clock = FakeClock(50_000.0)
    faults = FaultConfig(
        seed=3,
        error_rate=0.05,
        drop_rate=0.03,
        burst_every=150,
        burst_length=5,
        burst_reset_seconds=2,
    )
    faulty = make_harness(tmp_path / "faulty", "small", faults=faults, monotonic=clock)
    # a lone request can meet a whole burst plus a 5xx and a drop: allow that many retries
    faulty.client_options = {"sleep": clock.sleep, "clock": clock, "max_retries": 10}
    injected = _count_faults(faulty)
    faulty_pipeline = faulty.pipeline()
    summary = faulty.run(faulty_pipeline)

    assert summary.requests == faulty.sim.stats.total > clean_requests  # retries happened
    assert injected["dropped"] > 0 and injected[429] > 0
    assert sum(injected[status] for status in (500, 502, 503)) > 0
    for table in expected_tables(faulty.store):  # every raw table, child tables included
        assert loaded_tree(faulty_pipeline, table) == loaded_tree(clean_pipeline, table), table
    assert_matches_store(faulty_pipeline, faulty.store)


def test_a_second_run_on_a_locked_pipeline_is_refused(tiny_harness: SourceHarness) -> None:
    pipeline = tiny_harness.pipeline()
    with (
        pipeline_lock(lock_path(pipeline)),
        pytest.raises(PipelineLockedError, match="holds the pipeline lock"),
    ):
        tiny_harness.run(pipeline)
    # the lock is released: the next run works
    assert tiny_harness.run(pipeline).events == len(tiny_harness.store.events)


def test_a_stale_lock_of_a_dead_process_is_taken_over(tiny_harness: SourceHarness) -> None:
    pipeline = tiny_harness.pipeline()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    path = lock_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    path.write_text(f'{{"pid": {dead.stdout.strip()}, "host": "{host}", "since": {time.time()}}}')

    summary = tiny_harness.run(pipeline)

    assert summary.events == len(tiny_harness.store.events)
    assert not path.exists()


_HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from calendly_elt.runner import pipeline_lock
    with pipeline_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def test_a_day_old_lock_of_a_live_run_on_this_host_is_not_taken_over(
    tiny_harness: SourceHarness,
) -> None:
    # a long backfill at 50 requests/min can hold the lock for more than a day
    pipeline = tiny_harness.pipeline()
    path = lock_path(pipeline)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            lock = json.loads(path.read_text())
            lock["since"] -= 2 * 24 * 3600  # taken two days ago
            path.write_text(json.dumps(lock))

            with pytest.raises(PipelineLockedError, match=f"pid {holder.pid} on "):
                tiny_harness.run(pipeline)
            assert json.loads(path.read_text())["pid"] == holder.pid  # still its lock
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
    assert holder.returncode == 0
    assert not path.exists()  # released by its holder, not by the refused run


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process identity needs /proc")
def test_a_lock_whose_pid_now_names_another_process_is_taken_over(
    tiny_harness: SourceHarness,
) -> None:
    # the run died and its pid was reused (e.g. pid 1 again after a container restart)
    pipeline = tiny_harness.pipeline()
    path = lock_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = {
        "pid": os.getpid(),  # alive, but not the process that took the lock
        "host": socket.gethostname(),
        "since": time.time(),
        "process_start": "an-earlier-boot:12345",
    }
    path.write_text(json.dumps(lock))

    summary = tiny_harness.run(pipeline)

    assert summary.events == len(tiny_harness.store.events)
    assert not path.exists()


def test_a_lock_file_appears_with_its_holder_already_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run must never read the lock empty (it would take it for a stale one)."""
    seen: list[str] = []
    real_link = os.link

    def link(source: str | Path, target: str | Path) -> None:
        seen.append(Path(source).read_text())  # what the lock holds the instant it exists
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    path = tmp_path / "pipeline.lock"
    with pipeline_lock(path):
        assert json.loads(seen[0])["pid"] == os.getpid()
        assert json.loads(path.read_text()) == json.loads(seen[0])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.lock"]  # no draft left
        with pytest.raises(PipelineLockedError), pipeline_lock(path):
            pass
    assert not path.exists()
