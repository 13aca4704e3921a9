"""The window loop keeps the API busy: no drain at page or window boundaries.

A transport in front of the in-process simulator holds every invitee call
for a few milliseconds and records how many calls were in flight when each
request started and ended. The old loop built a thread pool per page of 100
events and listed each window only once the previous one was done, so the
invitee calls in flight fell to zero at every page and window boundary.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from calendly_elt.runner import make_pipeline, run_extraction
from tests.source_harness import SourceHarness, assert_matches_store

INVITEE_CALL_SECONDS = 0.03
WORKERS = 8


@dataclass
class InFlight:
    """Counts requests in flight by kind, around another transport."""

    inner: httpx.BaseTransport
    invitees: int = 0
    total: int = 0
    max_total: int = 0
    drops_to_zero: int = 0  # an invitee call ended with none left in flight
    invitee_calls: int = 0
    lists_during_invitee_calls: int = 0
    lists: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_invitees = request.url.path.endswith("/invitees")
        is_list = request.url.path == "/scheduled_events"
        with self.lock:
            self.total += 1
            self.max_total = max(self.max_total, self.total)
            if is_invitees:
                self.invitees += 1
                self.invitee_calls += 1
            if is_list:
                self.lists += 1
                self.lists_during_invitee_calls += self.invitees > 0
        try:
            if is_invitees:
                time.sleep(INVITEE_CALL_SECONDS)
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.total -= 1
                if is_invitees:
                    self.invitees -= 1
                    self.drops_to_zero += self.invitees == 0

    def close(self) -> None:
        self.inner.close()


def test_invitee_calls_flow_across_pages_and_windows(small_harness: SourceHarness) -> None:
    harness = small_harness
    transport = InFlight(harness.sim.transport())
    pipeline = make_pipeline(duckdb_path=harness.folder / "flow.duckdb")
    settings = harness.settings(max_concurrency=WORKERS)
    summary = run_extraction(
        pipeline,
        settings,
        now=harness.store.clock.now,
        transport=transport,  # type: ignore[arg-type]
    )

    assert_matches_store(pipeline, harness.store)
    assert transport.invitee_calls == len(harness.store.events) > 500
    assert summary.packages == 1 + 1  # one checkpoint of events (5,000 events / 60 s), then dims
    # the pool never drained between pages or windows: the calls in flight reached zero
    # only at the very end (and maybe where a window had no event to read)
    assert transport.drops_to_zero <= 3, transport.drops_to_zero
    # the next window's list was read while the current window's invitee calls ran
    assert transport.lists_during_invitee_calls >= summary.windows // 2
    # never more in flight than the pool's workers, and the pool was used to the full
    assert transport.max_total == WORKERS


def test_checkpoints_read_no_window_twice(small_harness: SourceHarness) -> None:
    """Reading the next window ahead stops where a checkpoint is due: no list is read twice."""
    harness = small_harness
    whole = harness.run(harness.pipeline("whole"))
    lists_in_one_go = harness.sim.stats["GET /scheduled_events"]
    harness.sim.stats.reset()

    pipeline = harness.pipeline("checkpointed")
    summary = harness.run(pipeline, settings=harness.settings(checkpoint_events=100))

    assert whole.packages == 2 and summary.packages > 5
    assert harness.sim.stats["GET /scheduled_events"] == lists_in_one_go
    assert_matches_store(pipeline, harness.store)
