"""Scheduled events and their invitees: the window loop and the invitee fan-out.

``scheduled_events`` reads the run's windows in order (``windows.py`` plans
them, ``checkpoints.py`` records each one read) and yields the events of each
window as :class:`EventPage` lists. Each page carries what the invitees step
needs (:class:`InviteeWork`: which of its events get their invitees read, and
the known data to find vanished invitees in), so the ``invitees`` transformer,
which dlt feeds with the very pages the events resource yields, depends on
nothing else. After every ``checkpoint_events`` events, or
``checkpoint_seconds`` after the last checkpoint, the extraction stops at a
window boundary; the runner loads the package (the checkpoint) and calls
the source again.

The loop keeps the rate limiter busy (``concurrency.py``): the next window's
event list is read on the client's pool while the current window is worked
through, and a page's invitee calls are started when the page is built, one
page ahead of the page the ``invitees`` step is waiting on; nothing of it is
state until the package is loaded, so the order in which calls finish does not
matter to the checkpoint.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import dlt

from calendly_elt.calendly.helpers.checkpoints import RunCursor, SyncState
from calendly_elt.calendly.helpers.concurrency import cancel_all
from calendly_elt.calendly.helpers.errors import CalendlyNotFoundError
from calendly_elt.calendly.helpers.invitee_selection import InviteeSelection
from calendly_elt.calendly.helpers.known_data import READ_AT, KnownData, read_known_data
from calendly_elt.calendly.helpers.no_shows import NoShowRecheck, recheck_reach
from calendly_elt.calendly.helpers.quarantine import as_quarantine, split_valid
from calendly_elt.calendly.helpers.rows import Row, in_pages, live_row, uuid_of
from calendly_elt.calendly.helpers.soft_deletes import PendingDeletions
from calendly_elt.calendly.helpers.windows import RunRequest, Window
from calendly_elt.calendly.run_options import SourceInputs, WindowProgress

logger = logging.getLogger(__name__)

LOOKAHEAD_PAGES = 1  # pages whose invitee calls run ahead of the page being consumed

Invitees = list[dict[str, Any]] | None
Listing = tuple[list[Row], list[Row]]


@dataclass(frozen=True)
class InviteeWork:
    """What the events step hands the invitees step with a page.

    Attributes:
        event_uris: The page's events whose invitees are to be read, in page order.
        fetches: Their invitee calls, started on the client's pool (same order).
        known: The live events and invitees loaded before the run.
    """

    event_uris: tuple[str, ...]
    fetches: tuple[Future[Invitees], ...]
    known: KnownData


class EventPage(list[Row]):
    """A page of events (the rows of ``scheduled_events``) plus its :class:`InviteeWork`.

    dlt hands the ``invitees`` transformer the object the events resource
    yielded (or a shallow copy, which keeps ``work``).
    """

    def __init__(self, rows: list[Row], work: InviteeWork) -> None:
        super().__init__(rows)
        self.work = work


def read_scheduled_events(inputs: SourceInputs) -> Iterator[EventPage]:
    """The ``scheduled_events`` resource: plan or resume the run, then read its windows."""
    source_state = dlt.current.source_state()
    state, deletions = SyncState(source_state), PendingDeletions(source_state)
    deletions.clear()
    state.check_reach(inputs.reach.describe(), inputs.options.full_refresh)
    cursor = state.begin_run(_run_request(inputs))
    recheck = NoShowRecheck(inputs.settings.no_show_rechecks)
    known = read_known_data(dlt.current.pipeline())
    selection = InviteeSelection(known, cursor.refetch_all, recheck)
    yield from _read_windows(inputs, state, deletions, cursor, selection)


def _run_request(inputs: SourceInputs) -> RunRequest:
    settings, options = inputs.settings, inputs.options
    return RunRequest(
        now=options.now(),
        start_date=settings.start_date,
        lookback_days=settings.lookback_days,
        horizon_days=settings.horizon_days,
        full_refresh=options.full_refresh,
        since=options.since,
        recheck_reach=recheck_reach(settings.no_show_rechecks),
        sweep_every_days=settings.sweep_every_days,
    )


def _read_windows(
    inputs: SourceInputs,
    state: SyncState,
    deletions: PendingDeletions,
    cursor: RunCursor,
    selection: InviteeSelection,
) -> Iterator[Any]:
    windows = cursor.remaining_windows(inputs.settings.window_days)
    total = cursor.windows_done + len(windows)
    batch_events, batch_started = 0, inputs.options.monotonic()
    lists = WindowLists(inputs, windows)
    held: deque[EventPage] = deque()  # built (calls started), not yet yielded
    try:
        for index, window in enumerate(windows):
            events, bad = lists.take(index)
            batch_events += len(events)
            if not _checkpoint_due(inputs, batch_events, batch_started):
                lists.read_ahead(index + 1)  # no checkpoint after this window: list the next
            listed = {event["uri"] for event in events} | {row["record_key"] for row in bad}
            _queue_vanished_events(inputs, deletions, selection.known, window, listed)
            if bad:
                yield as_quarantine(bad)
            calls = 0
            for page in _pages_with_work(inputs, events, selection):
                calls += len(page.work.event_uris)
                held.append(page)
                while len(held) > LOOKAHEAD_PAGES:
                    yield held.popleft()
            state.complete_window(cursor, window, len(events), calls)
            _report(inputs, cursor, window, total)
            if _checkpoint_due(inputs, batch_events, batch_started) and not cursor.done:
                logger.info("checkpoint after %s (%d events)", window, batch_events)
                break
        while held:
            yield held.popleft()
    finally:
        lists.cancel()
        cancel_all(fetch for page in held for fetch in page.work.fetches)
    if cursor.done:
        state.finish_run(cursor, inputs.client.request_count, inputs.options.now())
        logger.info("%s run complete: %d windows, %d events", cursor.kind, total, cursor.events)


class WindowLists:
    """The windows' event lists, read on the client's pool; the next one read ahead on request.

    Listing the next window while the current one's invitee calls run keeps
    the rate limiter busy across window boundaries; the loop asks for it only
    when no checkpoint will stop the run after the current window, so no list
    is read twice.
    """

    def __init__(self, inputs: SourceInputs, windows: Sequence[Window]) -> None:
        self._inputs = inputs
        self._windows = windows
        self._ahead: dict[int, Future[Listing]] = {}

    def read_ahead(self, index: int) -> None:
        """Start reading window ``index``'s list (nothing past the last window)."""
        if index < len(self._windows) and index not in self._ahead:
            window = self._windows[index]
            self._ahead[index] = self._inputs.client.pool.submit(_list_window, self._inputs, window)

    def take(self, index: int) -> Listing:
        """Window ``index``'s events and quarantined rows (read now unless read ahead)."""
        self.read_ahead(index)
        return self._inputs.client.pool.result(self._ahead.pop(index))

    def cancel(self) -> None:
        """Drop lists asked for and not started (a checkpoint, an error)."""
        cancel_all(self._ahead.values())
        self._ahead.clear()


def _pages_with_work(
    inputs: SourceInputs, events: list[Row], selection: InviteeSelection
) -> Iterator[EventPage]:
    """The window's events in pages, each page's invitee calls started as it is built."""
    pool = inputs.client.pool
    for page in in_pages(events):
        wanted: list[str] = []
        for event in page:
            now = inputs.options.now()
            if selection.wants(event, now):
                wanted.append(event["uri"])
                event[READ_AT] = now
            else:
                event[READ_AT] = selection.known.invitees_read_at(event["uri"])
        fetches = tuple(pool.submit(_fetch_invitees, inputs, uri) for uri in wanted)
        yield EventPage(page, InviteeWork(tuple(wanted), fetches, selection.known))


def _checkpoint_due(inputs: SourceInputs, batch_events: int, batch_started: float) -> bool:
    """Whether to commit now: enough events, or enough time, since the last checkpoint."""
    options = inputs.options
    every, seconds = options.checkpoint_events, options.checkpoint_seconds
    if every and batch_events >= every:
        return True
    return bool(seconds) and options.monotonic() - batch_started >= (seconds or 0)


def _list_window(inputs: SourceInputs, window: Window) -> tuple[list[Row], list[Row]]:
    """Every event starting in ``window`` (both statuses): the valid ones, the quarantined."""
    query = {**inputs.reach.owner_query(), "sort": "start_time:asc", **window.query()}
    rows = inputs.client.read_all("/scheduled_events", query, what=f"events of {window}")
    return split_valid("scheduled_events", [live_row(row) for row in rows])


def _queue_vanished_events(
    inputs: SourceInputs,
    deletions: PendingDeletions,
    known: KnownData,
    window: Window,
    listed: set[str],
) -> None:
    vanished = known.vanished_events(window, listed)
    if vanished:
        logger.info("%d events vanished from %s; marking them deleted", len(vanished), window)
        moment = inputs.options.now()
        deletions.add("scheduled_events", vanished, moment)
        deletions.add("invitees", known.invitees_of(vanished), moment)


def _report(inputs: SourceInputs, cursor: RunCursor, window: Window, total: int) -> None:
    if inputs.options.progress is None:
        return
    inputs.options.progress(
        WindowProgress(
            kind=cursor.kind,
            window=window,
            windows_done=cursor.windows_done,
            windows_total=total,
            events=cursor.events,
            invitee_calls=cursor.invitee_calls,
            requests=inputs.client.request_count,
        )
    )


def read_invitees(inputs: SourceInputs, page: Any) -> Iterator[Any]:
    """The ``invitees`` transformer: the invitees of the page's wanted events (concurrent calls).

    An invitee missing from a re-read list is queued as deleted; an event that
    vanished before its invitees were read (404) is skipped; an invitee that
    breaks the contract is quarantined. Items that are not event pages (the
    events step's quarantine rows) carry no work.
    """
    if not isinstance(page, EventPage):
        return
    rows: list[Row] = []
    deletions = PendingDeletions(dlt.current.source_state())
    work = page.work
    for index, (event_uri, fetch) in enumerate(zip(work.event_uris, work.fetches, strict=True)):
        try:
            fetched = inputs.client.pool.result(fetch)
        except BaseException:
            cancel_all(work.fetches[index + 1 :])
            raise
        if fetched is None:
            continue
        rows.extend(live_row(row) for row in fetched)
        listed = {row.get("uri") for row in fetched}
        vanished = page.work.known.vanished_invitees(event_uri, {u for u in listed if u})
        deletions.add("invitees", vanished, inputs.options.now())
    valid, bad = split_valid("invitees", rows)
    yield valid
    if bad:
        yield as_quarantine(bad)


def _fetch_invitees(inputs: SourceInputs, event_uri: str) -> Invitees:
    """All invitees of one event; None if the event is gone (404)."""
    path = f"/scheduled_events/{uuid_of(event_uri)}/invitees"
    try:
        return inputs.client.read_all(path, {}, what=f"invitees of {event_uri}")
    except CalendlyNotFoundError:
        logger.info("event %s vanished before its invitees were read", event_uri)
        return None
