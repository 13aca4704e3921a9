"""Measuring one run of one side: a served simulator that counts, a child process, N_min.

``CountingSimulator`` is the simulator with a tally of response statuses (the
429s); ``run_side`` starts ``bench.sides`` in its own process, waits for it
within a time budget and reads its peak RSS and CPU from ``os.wait4``;
``n_min`` is the fewest requests that read the same data: every list page at
100 records a page plus one invitee call per event.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calendly_elt.simulator import SimRequest, SimResponse, Simulator
from calendly_elt.simulator.store import Store

ROOT = Path(__file__).resolve().parent.parent
PAGE = 100
GAP_SECONDS = 0.25
KILL_AFTER_SECONDS = 30  # after the SIGTERM of a run over its budget


class CountingSimulator(Simulator):
    """The simulator, also counting the statuses it answered (429s included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: Counter[int] = Counter()
        self.arrivals: list[float] = []
        self._status_lock = threading.Lock()

    def handle(self, request: SimRequest) -> SimResponse:
        arrived = time.monotonic()
        response = super().handle(request)
        with self._status_lock:
            self.statuses[response.status] += 1
            self.arrivals.append(arrived)
        return response

    def pacing(self, gap_seconds: float = GAP_SECONDS) -> dict[str, float]:
        """How steadily requests arrived: the span, its rate, and the time in long gaps.

        A gap is a stretch over ``gap_seconds`` with no request arriving (with
        ~50 ms of latency and calls in flight, a saturated run never has one):
        the seconds the run spent not asking the API anything (imports,
        checkpoints' loads, the models).
        """
        with self._status_lock:
            arrivals = sorted(self.arrivals)
        if len(arrivals) < 2:
            return {"span_seconds": 0.0, "rate_per_second": 0.0, "gap_seconds": 0.0, "gaps": 0}
        span = arrivals[-1] - arrivals[0]
        gaps = [b - a for a, b in itertools.pairwise(arrivals) if b - a > gap_seconds]
        return {
            "span_seconds": round(span, 2),
            "rate_per_second": round((len(arrivals) - 1) / span, 1) if span else 0.0,
            "gap_seconds": round(sum(gaps), 2),
            "gaps": len(gaps),
        }

    def start_counting(self) -> None:
        """Count from zero, with a fresh rate-limit window, for the next run."""
        self.stats.reset()
        self.rate_limiter.reset()
        with self._status_lock:
            self.statuses.clear()
            self.arrivals.clear()


@dataclass
class SideRun:
    """What the parent measured of one child run."""

    finished: bool
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    returncode: int
    child: dict[str, Any]


def run_side(
    arguments: list[str], out: Path, budget_seconds: float, profile: Path | None = None
) -> SideRun:
    """Run ``python -m bench.sides ARGUMENTS --out OUT``; stop it after ``budget_seconds``.

    With ``profile``, the child runs under ``py-spy record`` (raw collapsed
    stacks of every thread, CPU samples only, into that file); its RSS and CPU are
    then py-spy's and the child's together.
    """
    command = [sys.executable, "-m", "bench.sides", *arguments, "--out", str(out)]
    if profile is not None:
        command = [
            *(_py_spy(), "record", "--format", "raw", "--threads", "--rate", "50"),
            *("--output", str(profile), "--"),
            *command,
        ]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    finished = True
    while True:  # os.wait4, not Popen.poll: it returns the child's own resource usage
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.perf_counter() - started
        if finished and elapsed > budget_seconds:
            process.send_signal(signal.SIGTERM)
            finished = False
        elif not finished and elapsed > budget_seconds + KILL_AFTER_SECONDS:
            process.kill()
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    child = json.loads(out.read_text(encoding="utf-8")) if finished and out.exists() else {}
    # the child's own VmHWM: ru_maxrss carries this (large) process's peak over exec
    own_peak = child.pop("peak_rss_mb", None)
    return SideRun(
        finished=finished and process.returncode == 0,
        wall_seconds=round(wall, 2),
        peak_rss_mb=own_peak if own_peak is not None else round(usage.ru_maxrss / 1024, 1),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
        returncode=process.returncode,
        child=child,
    )


def _pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE))


def dimension_pages(store: Store) -> int:
    """List pages of the small lists, plus ``GET /users/me``."""
    submissions = Counter(s["routing_form"] for s in store.routing_form_submissions.values())
    return (
        1
        + _pages(len(store.event_types))
        + _pages(len(store.organization_memberships))
        + _pages(len(store.groups))
        + _pages(len(store.routing_forms))
        + sum(_pages(submissions[form["uri"]]) for form in store.routing_forms.values())
    )


def n_min(store: Store, events: int) -> int:
    """The fewest requests that read ``events`` events, their invitees and the small lists."""
    return dimension_pages(store) + _pages(events) + events


def _py_spy() -> str:
    """The py-spy beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else (shutil.which("py-spy") or "py-spy")
