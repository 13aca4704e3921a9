"""Concurrency: one pool of worker threads for a whole run, results in order.

The N+1 invitee calls dominate a run's cost; they run ``max_concurrency`` at
a time while the shared rate limiter (``rate_limit.py``) paces them. The pool
lives as long as the client, so calls flow across pages, windows and
checkpoints without a pool being built and drained each time: the window loop
(``events.py``) submits the next page's calls and the next window's event list
while the current page's results are consumed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PENDING_PER_WORKER = 4


class WorkerPool:
    """A lazily started thread pool shared by every concurrent call of one client.

    Args:
        workers: Calls running at once at most.
        on_interrupt: Called on an interrupt while waiting for a result, before
            it propagates (the client cancels itself, so workers waiting for the
            rate limiter or a retry stop at once instead of holding up the exit).
    """

    def __init__(self, workers: int, *, on_interrupt: Callable[[], None]) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._on_interrupt = on_interrupt
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., R], *args: object) -> Future[R]:
        """Run ``fn(*args)`` on the pool; the future holds its result or error."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="calendly")
            return self._executor.submit(fn, *args)

    def result(self, future: Future[R]) -> R:
        """``future.result()``, cancelling the client first if interrupted meanwhile."""
        try:
            return future.result()
        except KeyboardInterrupt:
            self._on_interrupt()
            raise

    def map_in_order(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Apply ``fn`` to every item on the pool, yielding ``(item, fn(item))`` in input order.

        Only a few items per worker are taken from ``items`` ahead of the
        consumer, so a long input is streamed, not materialized. When the
        consumer stops early (an error, a closed generator), calls not yet
        started are cancelled.

        Raises:
            Exception: The first error (in input order) raised by ``fn``.
            KeyboardInterrupt: Interrupted (also while waiting for a result).
        """
        pending: deque[tuple[T, Future[R]]] = deque()
        window = self.workers * PENDING_PER_WORKER
        try:
            for item in items:
                pending.append((item, self.submit(fn, item)))
                if len(pending) >= window:
                    done_item, future = pending.popleft()
                    yield done_item, self.result(future)
            while pending:
                done_item, future = pending.popleft()
                yield done_item, self.result(future)
        finally:
            cancel_all(future for _, future in pending)

    def shutdown(self) -> None:
        """Drop calls not started; wait for the running ones (a cancelled client ends them)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def cancel_all(futures: Iterable[Future[Any]]) -> None:
    """Cancel every future not started yet (running ones finish; their results are dropped)."""
    for future in futures:
        future.cancel()
