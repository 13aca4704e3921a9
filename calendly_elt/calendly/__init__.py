"""The Calendly dlt source: one resource per raw table.

``calendly_source`` yields the organization's ``users``,
``organization_memberships``, ``groups``, ``event_types``, ``routing_forms``,
``routing_form_submissions`` and ``webhook_subscriptions`` (small lists, read
whole every run) and the big two, ``scheduled_events`` and ``invitees``, read
over incremental start-time windows (``helpers/windows.py``) with a resumable
checkpoint and fingerprints (``helpers/sync_state.py``). HTTP, auth, retries,
rate limiting and paging live in ``helpers/client.py``.

Rows are the API objects as Calendly returns them, with every ``*_at`` /
``*_time`` timestamp converted to an aware UTC datetime; dlt flattens nested
objects into ``parent__child`` columns and lists into child tables. After each
load, call :func:`apply_pending_deletions` (the runner does) to mark events and
invitees that vanished from a re-read window as ``is_deleted``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from dlt.sources import DltResource

from calendly_elt.calendly.config import CalendlySettings, build_client, resolve_settings
from calendly_elt.calendly.helpers.errors import (
    CalendlyForbiddenError,
    CalendlyNotFoundError,
    CalendlyPageTokenExpiredError,
)
from calendly_elt.calendly.helpers.sync_state import (
    KnownData,
    RunCursor,
    RunRequest,
    SyncState,
    apply_pending_deletions,
    no_show_recheck_start,
    read_known_data,
    read_loaded_hosts,
    read_loaded_uris,
)
from calendly_elt.calendly.helpers.windows import Window, parse_api_timestamp
from calendly_elt.calendly.settings import COLUMN_HINTS, MAX_WINDOW_RESTARTS, PAGE_SIZE
from calendly_elt.errors import CalendlyEltError

__all__ = [
    "DIMENSION_RESOURCES",
    "EVENT_RESOURCES",
    "WindowProgress",
    "apply_pending_deletions",
    "calendly_source",
]

logger = logging.getLogger(__name__)

EVENT_RESOURCES = ("scheduled_events", "invitees")
DIMENSION_RESOURCES = (
    "organization_memberships",
    "groups",
    "event_types",
    "routing_forms",
    "routing_form_submissions",
    "webhook_subscriptions",
    "users",
)
_TIMESTAMP_SUFFIXES = ("_at", "_time")
_EPOCH = datetime.min.replace(tzinfo=UTC)


class WindowRestartError(CalendlyEltError):
    """A window's page tokens kept expiring; the run stops at its last checkpoint."""


@dataclass(frozen=True)
class WindowProgress:
    """Progress after each window, for a progress display.

    Attributes:
        kind: The run kind (``backfill``, ``incremental``, ...).
        window: The window just read.
        windows_done: Windows of the run committed or read so far.
        windows_total: Windows the run reads in all.
        events: Events read by the run so far.
        invitee_calls: Events whose invitees were fetched so far.
        requests: HTTP requests sent by the client so far.
    """

    kind: str
    window: Window
    windows_done: int
    windows_total: int
    events: int
    invitee_calls: int
    requests: int


@dataclass
class _Context:
    """What every resource of one source instance shares."""

    client: Any
    settings: CalendlySettings
    now: Callable[[], datetime]
    full_refresh: bool
    since: datetime | None
    checkpoint_events: int | None
    progress: Callable[[WindowProgress], None] | None
    hosts_seen: set[str] = field(default_factory=set)
    known: KnownData | None = None
    refetch_all: bool = True
    ended_since: datetime = _EPOCH
    invitee_calls: int = 0

    @property
    def identity(self) -> dict[str, str]:
        """The token user's URI and the organization to read (``GET /users/me`` once)."""
        cached = _IDENTITIES.get(self.client)
        if cached is None:
            me = self.client.get("/users/me")["resource"]
            cached = {"user": me["uri"], "organization": me.get("current_organization") or ""}
            _IDENTITIES[self.client] = cached
        organization = self.settings.organization or cached["organization"]
        return {"user": cached["user"], "organization": organization}

    def reach(self) -> dict[str, str | None]:
        """What this run reads: the scope, the organization and, in user scope, the user."""
        identity = self.identity
        user = identity["user"] if self.settings.scope == "user" else None
        organization = identity["organization"]
        return {"scope": self.settings.scope, "organization": organization, "user": user}

    def owner_query(self) -> dict[str, str]:
        """``organization=`` (organization scope) or ``user=`` (user scope) of list calls."""
        identity = self.identity
        if self.settings.scope == "user":
            return {"user": identity["user"]}
        return {"organization": identity["organization"]}


_IDENTITIES: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


@dlt.source(name="calendly", section="calendly")
def calendly_source(
    access_token: str | None = dlt.secrets.value,
    client_id: str | None = dlt.secrets.value,
    client_secret: str | None = dlt.secrets.value,
    refresh_token: str | None = dlt.secrets.value,
    base_url: str | None = None,
    auth_base_url: str | None = None,
    organization: str | None = None,
    scope: str | None = None,
    start_date: str | None = None,
    lookback_days: int | None = None,
    no_show_lookback_days: int | None = None,
    horizon_days: int | None = None,
    window_days: int | None = None,
    max_concurrency: int | None = None,
    requests_per_minute: int | None = None,
    token_store_path: str | None = None,
    full_refresh: bool = False,
    since: datetime | None = None,
    checkpoint_events: int | None = None,
    now: Callable[[], datetime] | None = None,
    client: Any = None,
    progress: Callable[[WindowProgress], None] | None = None,
) -> Sequence[DltResource]:
    """A Calendly organization (or, with ``scope="user"``, the token user's share of it).

    Args:
        access_token: Personal access token (secret).
        client_id: OAuth app client id (secret).
        client_secret: OAuth app client secret (secret).
        refresh_token: OAuth refresh token (secret); rotated tokens are stored
            in ``token_store_path``.
        base_url: API root; default ``https://api.calendly.com``.
        auth_base_url: OAuth root; default ``https://auth.calendly.com``.
        organization: Organization URI; default the token user's current one.
        scope: ``organization`` (needs an admin token) or ``user``.
        start_date: Where the first backfill starts; default two years ago.
        lookback_days: Days before the last successful run that a run re-reads.
        no_show_lookback_days: Meetings that ended this many days before the
            last successful run, or later, get their invitees re-read.
        horizon_days: Days after now that every run reads.
        window_days: Days per ``/scheduled_events`` window.
        max_concurrency: Invitee calls in flight at once.
        requests_per_minute: Client-side request budget.
        token_store_path: OAuth token store file (0600).
        full_refresh: Re-read every window from the backfill start and every
            event's invitees.
        since: Re-read every window (and invitee) from this instant on.
        checkpoint_events: Stop the extraction after the window in which this
            many events accumulated (the runner then loads the package and
            calls the source again); None reads the whole run at once.
        now: The clock ("now" of windows and soft deletes); default wall-clock UTC.
        client: A ready ``CalendlyClient`` (shared across calls; credentials are
            then not needed).
        progress: Called after each window.

    Returns:
        The resources, named after their tables.
    """
    resolved = resolve_settings(
        require_credentials=client is None,
        access_token=access_token,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        base_url=base_url,
        auth_base_url=auth_base_url,
        organization=organization,
        scope=scope,
        start_date=start_date,
        lookback_days=lookback_days,
        no_show_lookback_days=no_show_lookback_days,
        horizon_days=horizon_days,
        window_days=window_days,
        max_concurrency=max_concurrency,
        requests_per_minute=requests_per_minute,
        token_store_path=token_store_path,
    )
    clock = now or _wall_clock
    context = _Context(
        client=client or build_client(resolved, now=clock),
        settings=resolved,
        now=clock,
        full_refresh=full_refresh,
        since=since,
        checkpoint_events=checkpoint_events,
        progress=progress,
    )
    return _resources(context)


def _columns(table: str) -> Any:
    """The table's column hints from the raw table contract (``settings.COLUMN_HINTS``)."""
    return COLUMN_HINTS[table]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _resources(context: _Context) -> list[DltResource]:
    events = _scheduled_events_resource(context)
    forms = _routing_forms_resource(context)
    return [
        events,
        _invitees_resource(context, events),
        _memberships_resource(context),
        _groups_resource(context),
        _event_types_resource(context),
        forms,
        _submissions_resource(context, forms),
        _webhooks_resource(context),
        _users_resource(context),
    ]


# ---- row shaping --------------------------------------------------------------


def to_utc_datetimes(value: Any, key: str = "") -> Any:
    """Convert every ``*_at``/``*_time`` timestamp string, at any depth, to aware UTC.

    Args:
        value: An API object, list or scalar.
        key: The key ``value`` was found under.

    Returns:
        A copy with timestamp strings replaced by datetimes.
    """
    if isinstance(value, dict):
        return {name: to_utc_datetimes(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [to_utc_datetimes(item, key) for item in value]
    if isinstance(value, str) and key.endswith(_TIMESTAMP_SUFFIXES):
        try:
            return parse_api_timestamp(value)
        except ValueError:
            return value
    return value


def _live(row: dict[str, Any]) -> dict[str, Any]:
    """An event or invitee as read: live, not deleted."""
    shaped = to_utc_datetimes(row)
    shaped["is_deleted"] = False
    shaped["deleted_at"] = None
    return shaped


def _uuid(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _pages(rows: list[dict[str, Any]], size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    for offset in range(0, len(rows), size):
        yield rows[offset : offset + size]


def _skip_if_refused(name: str, rows: Callable[[], Iterable[list[dict[str, Any]]]]) -> Iterator:
    """Yield pages from ``rows``; a 403/404 (plan or rights) skips the resource."""
    try:
        for page in rows():
            yield [to_utc_datetimes(row) for row in page]
    except (CalendlyForbiddenError, CalendlyNotFoundError) as error:
        logger.warning("skipping %s: %s", name, error)


# ---- scheduled events and invitees -----------------------------------------------


def _scheduled_events_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="scheduled_events",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("scheduled_events"),
    )
    def scheduled_events() -> Iterator[list[dict[str, Any]]]:
        """Events of the run's windows, oldest first; checkpoints after each window."""
        state = SyncState(dlt.current.source_state())
        state.clear_pending_deletions()
        state.check_reach(context.reach(), context.full_refresh)
        cursor = state.begin_run(_run_request(context))
        context.refetch_all = cursor.refetch_all
        context.ended_since = no_show_recheck_start(
            state.last_success_at, context.now(), context.settings.no_show_lookback_days
        )
        context.known = read_known_data(dlt.current.pipeline())
        yield from _read_windows(context, state, cursor)

    return scheduled_events


def _run_request(context: _Context) -> RunRequest:
    settings = context.settings
    return RunRequest(
        now=context.now(),
        start_date=settings.start_date,
        lookback_days=settings.lookback_days,
        horizon_days=settings.horizon_days,
        full_refresh=context.full_refresh,
        since=context.since,
    )


def _read_windows(
    context: _Context, state: SyncState, cursor: RunCursor
) -> Iterator[list[dict[str, Any]]]:
    windows = cursor.remaining_windows(context.settings.window_days)
    total = cursor.windows_done + len(windows)
    batch_events = 0
    for window in windows:
        events = _list_window(context, window)
        _queue_vanished_events(context, state, window, events)
        calls_before = context.invitee_calls
        yield from _pages(events)
        state.complete_window(cursor, window, len(events), context.invitee_calls - calls_before)
        _report(context, cursor, window, total)
        batch_events += len(events)
        if _checkpoint_due(context, batch_events) and cursor.next_start < cursor.range_end:
            logger.info("checkpoint after %s (%d events)", window, batch_events)
            return
    state.finish_run(cursor, context.client.request_count, context.now())
    logger.info("%s run complete: %d windows, %d events", cursor.kind, total, cursor.events)


def _checkpoint_due(context: _Context, batch_events: int) -> bool:
    return bool(context.checkpoint_events) and batch_events >= (context.checkpoint_events or 0)


def _list_window(context: _Context, window: Window) -> list[dict[str, Any]]:
    """Every event starting in ``window`` (both statuses); restarts on an expired page token."""
    query = {**context.owner_query(), "sort": "start_time:asc", **window.query()}
    for attempt in range(MAX_WINDOW_RESTARTS + 1):
        try:
            rows = [row for page in context.client.paginate("/scheduled_events", query)
                    for row in page]  # fmt: skip
        except CalendlyPageTokenExpiredError:
            logger.warning("page token expired in %s; restarting the window (%d)", window, attempt)
            continue
        events = [_live(row) for row in rows]
        for event in events:
            context.hosts_seen.update(
                member["user"]
                for member in event.get("event_memberships") or []
                if "user" in member
            )
        return events
    raise WindowRestartError(
        f"page tokens kept expiring while reading events of {window}; "
        "the run stopped at its last checkpoint - rerun to resume"
    )


def _queue_vanished_events(
    context: _Context, state: SyncState, window: Window, events: list[dict[str, Any]]
) -> None:
    known = context.known
    if known is None:
        return
    vanished = known.vanished_events(window, {event["uri"] for event in events})
    if vanished:
        logger.info("%d events vanished from %s; marking them deleted", len(vanished), window)
        moment = context.now()
        state.add_deletions("scheduled_events", vanished, moment)
        state.add_deletions("invitees", known.invitees_of(vanished), moment)


def _report(context: _Context, cursor: RunCursor, window: Window, total: int) -> None:
    if context.progress is None:
        return
    context.progress(
        WindowProgress(
            kind=cursor.kind,
            window=window,
            windows_done=cursor.windows_done,
            windows_total=total,
            events=cursor.events,
            invitee_calls=cursor.invitee_calls,
            requests=context.client.request_count,
        )
    )


def _invitees_resource(context: _Context, events: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=events,
        name="invitees",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("invitees"),
    )
    def invitees(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Invitees of the page's new, changed or recently ended events (concurrent calls)."""
        wanted = [event for event in page if _needs_invitees(context, event)]
        rows: list[dict[str, Any]] = []
        for event, fetched in context.client.map_concurrently(
            lambda event: _fetch_invitees(context, event["uri"]), wanted
        ):
            context.invitee_calls += 1
            if fetched is None:
                continue
            rows.extend(_live(row) for row in fetched)
            _queue_vanished_invitees(context, event["uri"], fetched)
        return rows

    return invitees


def _needs_invitees(context: _Context, event: dict[str, Any]) -> bool:
    known = context.known or KnownData()
    return known.needs_invitees(
        event,
        refetch_all=context.refetch_all,
        ended_since=context.ended_since,
        now=context.now(),
    )


def _fetch_invitees(context: _Context, event_uri: str) -> list[dict[str, Any]] | None:
    """All invitees of one event; None if the event is gone (404)."""
    path = f"/scheduled_events/{_uuid(event_uri)}/invitees"
    for _ in range(MAX_WINDOW_RESTARTS + 1):
        try:
            return [row for page in context.client.paginate(path, {}) for row in page]
        except CalendlyPageTokenExpiredError:
            logger.warning("page token expired listing invitees of %s; restarting", event_uri)
        except CalendlyNotFoundError:
            logger.info("event %s vanished before its invitees were read", event_uri)
            return None
    raise WindowRestartError(f"page tokens kept expiring while reading invitees of {event_uri}")


def _queue_vanished_invitees(
    context: _Context, event_uri: str, fetched: list[dict[str, Any]]
) -> None:
    if context.known is None:
        return
    vanished = context.known.vanished_invitees(event_uri, {row["uri"] for row in fetched})
    if vanished:
        state = SyncState(dlt.current.source_state())
        state.add_deletions("invitees", vanished, context.now())


# ---- dimensions -----------------------------------------------------------------


def _memberships_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="organization_memberships",
        write_disposition="replace",
        primary_key="uri",
        columns=_columns("organization_memberships"),
    )
    def organization_memberships() -> Iterator[list[dict[str, Any]]]:
        """The organization's current members (replace: a removed member disappears)."""
        yield from _skip_if_refused(
            "organization_memberships",
            lambda: context.client.paginate("/organization_memberships", context.owner_query()),
        )

    return organization_memberships


def _groups_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="groups",
        write_disposition="replace",
        primary_key="uri",
        columns=_columns("groups"),
    )
    def groups() -> Iterator[list[dict[str, Any]]]:
        """The organization's groups (replace: the current list)."""
        yield from _skip_if_refused(
            "groups",
            lambda: context.client.paginate(
                "/groups", {"organization": context.identity["organization"]}
            ),
        )

    return groups


def _event_types_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="event_types",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("event_types"),
    )
    def event_types() -> Iterator[list[dict[str, Any]]]:
        """Active and inactive event types (merge: old events keep their type's name)."""
        yield from _skip_if_refused(
            "event_types",
            lambda: context.client.paginate("/event_types", context.owner_query()),
        )

    return event_types


def _routing_forms_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="routing_forms",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("routing_forms"),
    )
    def routing_forms() -> Iterator[list[dict[str, Any]]]:
        """The organization's routing forms (merge: submissions keep their form)."""
        yield from _skip_if_refused(
            "routing_forms",
            lambda: context.client.paginate(
                "/routing_forms", {"organization": context.identity["organization"]}
            ),
        )

    return routing_forms


def _submissions_resource(context: _Context, forms: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=forms,
        name="routing_form_submissions",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("routing_form_submissions"),
    )
    def routing_form_submissions(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Submissions of each routing form of the page."""
        rows: list[dict[str, Any]] = []
        for form in page:
            rows.extend(_submissions_of(context, form["uri"]))
        return rows

    return routing_form_submissions


def _submissions_of(context: _Context, form_uri: str) -> list[dict[str, Any]]:
    """A form's submissions, newest first, down to the first page of old, loaded ones.

    A submission changes only while its booking happens (``submitter``), so
    paging stops at a page whose rows are all loaded already and older than
    ``lookback_days``; a full refresh reads everything.
    """
    stop_before = None if context.full_refresh else _submissions_horizon(context)
    loaded = read_loaded_uris(dlt.current.pipeline(), "routing_form_submissions")

    def pages() -> Iterable[list[dict[str, Any]]]:
        query = {"form": form_uri, "sort": "created_at:desc"}
        return context.client.paginate("/routing_form_submissions", query)  # type: ignore[no-any-return]

    rows: list[dict[str, Any]] = []
    for page in _skip_if_refused("routing_form_submissions", pages):
        rows.extend(page)
        if stop_before and page and all(_old_and_loaded(row, stop_before, loaded) for row in page):
            break
    return rows


def _submissions_horizon(context: _Context) -> datetime:
    horizon = context.now() - timedelta(days=context.settings.lookback_days)
    return min(horizon, context.since) if context.since else horizon


def _old_and_loaded(row: dict[str, Any], stop_before: datetime, loaded: set[str]) -> bool:
    created = row.get("created_at")
    return isinstance(created, datetime) and created < stop_before and row["uri"] in loaded


def _webhooks_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="webhook_subscriptions",
        write_disposition="replace",
        primary_key="uri",
        columns=_columns("webhook_subscriptions"),
    )
    def webhook_subscriptions() -> Iterator[list[dict[str, Any]]]:
        """Organization-scope subscriptions (user-scope ones with ``scope=user``); replace."""
        identity = context.identity
        query = {"organization": identity["organization"], "scope": context.settings.scope}
        if context.settings.scope == "user":
            query["user"] = identity["user"]
        yield from _skip_if_refused(
            "webhook_subscriptions",
            lambda: context.client.paginate("/webhook_subscriptions", query),
        )

    return webhook_subscriptions


def _users_resource(context: _Context) -> DltResource:
    @dlt.resource(
        name="users",
        write_disposition="merge",
        primary_key="uri",
        columns=_columns("users"),
    )
    def users() -> Iterator[list[dict[str, Any]]]:
        """Members, plus hosts of loaded events who are not (people who left stay)."""
        members = _member_users(context)
        yield from _pages(members)
        pipeline = dlt.current.pipeline()
        known = {user["uri"] for user in members} | read_loaded_uris(pipeline, "users")
        others = sorted((context.hosts_seen | read_loaded_hosts(pipeline)) - known)
        fetched = context.client.map_concurrently(lambda uri: _fetch_user(context, uri), others)
        yield from _pages([to_utc_datetimes(user) for _, user in fetched if user is not None])

    return users


def _member_users(context: _Context) -> list[dict[str, Any]]:
    """The users embedded in memberships; a member's current organization is the membership's."""
    users: list[dict[str, Any]] = []
    for page in _skip_if_refused(
        "users",
        lambda: context.client.paginate("/organization_memberships", context.owner_query()),
    ):
        for membership in page:
            user = dict(membership["user"])
            user.setdefault("current_organization", membership.get("organization"))
            users.append(user)
    return users


def _fetch_user(context: _Context, uri: str) -> dict[str, Any] | None:
    try:
        return context.client.get(f"/users/{_uuid(uri)}")["resource"]
    except (CalendlyForbiddenError, CalendlyNotFoundError) as error:
        logger.warning("skipping user %s: %s", _uuid(uri), error)
        return None
