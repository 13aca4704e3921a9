"""When hosts mark no-shows: a seeded delay after the meeting, and the marks still to come.

Hosts mark a no-show when they get round to it: most within a day of the
meeting, some within the week, a long tail weeks later. ``mark_delay`` draws
that delay from a mixture (``LATENESS_MIX``); a mark due after the store's
clock waits in ``Store.pending_marks`` (a heap of ``(due, seq, invitee uuid)``)
until a simulated day reaches it (``due_marks``). ``lateness_bucket`` names
the delay of a mark that was made, measured from the meeting's end.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta

from calendly_elt.simulator.store import Resource, Store, format_ts, parse_ts

HOUR, DAY = timedelta(hours=1), timedelta(days=1)

# (bucket, share of marks, shortest delay, longest delay) after the meeting
LATENESS_MIX: tuple[tuple[str, float, timedelta, timedelta], ...] = (
    ("under_1d", 0.70, timedelta(minutes=5), DAY),
    ("1d_to_7d", 0.20, DAY, 7 * DAY),
    ("7d_to_28d", 0.10, 7 * DAY, 28 * DAY),
)
BUCKETS: tuple[str, ...] = (*(name for name, *_ in LATENESS_MIX), "over_28d")


def mark_delay(rng: random.Random) -> timedelta:
    """A seeded delay between a meeting and its no-show mark (``LATENESS_MIX``).

    Args:
        rng: The caller's seeded generator (two draws).

    Returns:
        The delay, at microsecond precision.
    """
    roll, cumulative = rng.random(), 0.0
    shortest, longest = LATENESS_MIX[-1][2:]
    for _, share, low, high in LATENESS_MIX:
        cumulative += share
        if roll < cumulative:
            shortest, longest = low, high
            break
    seconds = rng.uniform(shortest.total_seconds(), longest.total_seconds())
    return timedelta(seconds=round(seconds, 6))


def lateness_bucket(delay: timedelta) -> str:
    """The ``BUCKETS`` name of a mark made ``delay`` after its meeting's end.

    A mark made before the meeting ended (the host knew early) counts as under a day.
    """
    for name, _, _, longest in LATENESS_MIX:
        if delay < longest:
            return name
    return BUCKETS[-1]


def bucket_of_mark(store: Store, invitee: Resource) -> str | None:
    """The lateness bucket of an invitee's current no-show mark (None when unmarked)."""
    if invitee.get("no_show") is None:
        return None
    event = store.events[invitee["event"].rsplit("/", 1)[1]]
    made = parse_ts(invitee["no_show"]["created_at"])
    return lateness_bucket(made - parse_ts(event["end_time"]))


def queue_mark(store: Store, due: datetime, invitee_uuid: str) -> None:
    """Keep a mark the host will make at ``due`` (after the store's clock)."""
    heapq.heappush(store.pending_marks, (format_ts(due), len(store.pending_marks), invitee_uuid))


def due_marks(store: Store, until: datetime) -> list[tuple[datetime, str]]:
    """Take the pending marks due at or before ``until`` off the queue, in time order.

    Returns:
        ``(due, invitee uuid)`` pairs; the caller makes the marks.
    """
    limit, taken = format_ts(until), []
    while store.pending_marks and store.pending_marks[0][0] <= limit:
        due, _, invitee_uuid = heapq.heappop(store.pending_marks)
        taken.append((parse_ts(due), invitee_uuid))
    return taken
