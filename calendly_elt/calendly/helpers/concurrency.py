"""Concurrency: the per-event invitee calls on a bounded thread pool, results in order.

The N+1 invitee calls dominate a run's cost; they run ``max_concurrency`` at
a time while the shared rate limiter (``rate_limit.py``) paces them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

PENDING_PER_WORKER = 4


def map_in_order(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    *,
    on_interrupt: Callable[[], None],
) -> Iterator[tuple[T, R]]:
    """Apply ``fn`` to every item on a thread pool of ``workers``, yielding in input order.

    At most ``workers`` calls run at once and only a few items per worker are
    taken from ``items`` ahead of the consumer, so a long input is streamed,
    not materialized.

    Args:
        fn: The call to make per item (e.g. fetch one event's invitees).
        items: The inputs.
        workers: Calls in flight at most.
        on_interrupt: Called on an interrupt before it propagates (the client
            cancels itself, so workers waiting for the rate limiter or a retry
            stop at once instead of holding up the exit).

    Yields:
        ``(item, fn(item))`` in input order.

    Raises:
        Exception: The first error (in input order) raised by ``fn``; calls
            not yet started are cancelled.
        KeyboardInterrupt: Interrupted (also while waiting for a result).
    """
    pending: deque[tuple[T, Future[R]]] = deque()
    window = workers * PENDING_PER_WORKER
    pool = ThreadPoolExecutor(workers, thread_name_prefix="calendly")
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= window:
                done_item, future = pending.popleft()
                yield done_item, future.result()
        while pending:
            done_item, future = pending.popleft()
            yield done_item, future.result()
    except KeyboardInterrupt:
        on_interrupt()
        raise
    finally:
        # calls not started are dropped; running ones end at their next wait once cancelled
        pool.shutdown(wait=True, cancel_futures=True)
