"""Constants of the Calendly source: endpoints, defaults, and the raw table contract.

The raw tables (dataset ``calendly``) are the API objects as Calendly returns
them, flattened by dlt's default naming: nested objects become
``parent__child`` columns (``tracking__utm_source``), lists become child
tables (``invitees__questions_and_answers``, linked by ``_dlt_parent_id``).
Three columns are ours: ``is_deleted`` (the row vanished from a fully re-read
window; soft delete) and ``deleted_at``, and, on ``scheduled_events``,
``invitees_read_at`` (when its invitees were last read: the no-show recheck
schedule, ``helpers/no_shows.py``).

``COLUMN_HINTS`` declares every column the SQL staging models read, so that a
column exists (typed) even when no loaded row has a value for it yet (dlt
creates columns only from non-null data otherwise).
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://api.calendly.com"
DEFAULT_AUTH_BASE_URL = "https://auth.calendly.com"
RAW_DATASET = "calendly"
ANALYTICS_SCHEMA = "calendly_analytics"
PIPELINE_NAME = "calendly"
# the @dlt.source name: its dlt state lives at pipeline.state["sources"][SOURCE_NAME]
SOURCE_NAME = "calendly"
# Default DuckDB file. Not calendly.duckdb: DuckDB names the catalog after the
# file, and a catalog named like the dataset makes `calendly.<table>` ambiguous.
DEFAULT_DUCKDB_FILE = "calendly_warehouse.duckdb"

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_HORIZON_DAYS = 365
# a sweep (every window listed, invitees only where changed) once a week: ~1 request
# per 100 events, finds deletions and changes older than the lookback
DEFAULT_SWEEP_EVERY_DAYS = 7
DEFAULT_WINDOW_DAYS = 30
DEFAULT_BACKFILL_YEARS = 2
DEFAULT_MAX_CONCURRENCY = 16  # 8 held a 6,000/min plan to 80 requests/s at 50 ms latency
DEFAULT_REQUESTS_PER_MINUTE = 500  # where the limiter starts until Calendly announces its limit
PAGE_SIZE = 100
# A load package (the durable checkpoint of completed windows) is committed after
# the window in which this many events accumulated: about a minute of API work
# at 500 requests/minute, and few packages (each costs a merge) on small orgs.
DEFAULT_CHECKPOINT_EVENTS = 5000
# An expired page token (400) restarts the window; give up after this many restarts.
MAX_WINDOW_RESTARTS = 3

SOFT_DELETE_COLUMNS: dict[str, dict[str, Any]] = {
    "is_deleted": {"data_type": "bool", "nullable": True},
    "deleted_at": {"data_type": "timestamp", "nullable": True},
}


def _text(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": "text", "nullable": True} for name in names}


def _timestamps(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": "timestamp", "nullable": True} for name in names}


def _bools(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": "bool", "nullable": True} for name in names}


def _bigints(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": "bigint", "nullable": True} for name in names}


_CANCELLATION = {
    **_text("cancellation__canceled_by", "cancellation__reason", "cancellation__canceler_type"),
    **_timestamps("cancellation__created_at"),
}

COLUMN_HINTS: dict[str, dict[str, dict[str, Any]]] = {
    "users": {
        **_text("uri", "name", "slug", "email", "timezone", "current_organization"),
        **_timestamps("created_at", "updated_at"),
    },
    "organization_memberships": {
        **_text("uri", "role", "organization", "user__uri", "user__email", "user__name"),
        **_timestamps("created_at", "updated_at"),
    },
    "groups": {
        **_text("uri", "name", "organization"),
        **_timestamps("created_at", "updated_at"),
    },
    "event_types": {
        **_text(
            "uri",
            "name",
            "slug",
            "kind",
            "pooling_type",
            "type",
            "color",
            "scheduling_url",
            "profile__type",
            "profile__name",
            "profile__owner",
        ),
        **_bools("active", "admin_managed", "secret"),
        **_bigints("duration"),
        **_timestamps("created_at", "updated_at"),
    },
    "scheduled_events": {
        **_text(
            "uri",
            "name",
            "status",
            "event_type",
            "location__type",
            "location__location",
            "location__join_url",
            "meeting_notes_plain",
            "meeting_notes_html",
        ),
        **_bigints(
            "invitees_counter__total", "invitees_counter__active", "invitees_counter__limit"
        ),
        **_timestamps("start_time", "end_time", "created_at", "updated_at"),
        **_CANCELLATION,
        **SOFT_DELETE_COLUMNS,
        # ours: when the run that last read the event's invitees started (no-show rechecks)
        **_timestamps("invitees_read_at"),
    },
    "invitees": {
        **_text(
            "uri",
            "email",
            "name",
            "first_name",
            "last_name",
            "status",
            "timezone",
            "event",
            "old_invitee",
            "new_invitee",
            "routing_form_submission",
            "scheduling_method",
            "invitee_scheduled_by",
            "no_show__uri",
            "text_reminder_number",
            "tracking__utm_campaign",
            "tracking__utm_source",
            "tracking__utm_medium",
            "tracking__utm_content",
            "tracking__utm_term",
            "tracking__salesforce_uuid",
        ),
        **_bools("rescheduled"),
        **_timestamps("created_at", "updated_at", "no_show__created_at"),
        **_CANCELLATION,
        **SOFT_DELETE_COLUMNS,
    },
    "routing_forms": {
        **_text("uri", "name", "status", "organization"),
        **_timestamps("created_at", "updated_at"),
    },
    "routing_form_submissions": {
        **_text("uri", "routing_form", "submitter", "submitter_type"),
        **_timestamps("created_at", "updated_at"),
    },
    "webhook_events": {
        **_text("id", "event", "created_by", "subject_uri", "event_uri", "body"),
        **_timestamps("created_at", "received_at"),
    },
    "webhook_subscriptions": {
        **_text("uri", "callback_url", "state", "scope", "organization", "user", "group"),
        **_timestamps("created_at", "updated_at", "retry_started_at"),
    },
}
"""Columns per raw table that must always exist. Child tables
(``scheduled_events__event_memberships``: ``user``, ``user_email``,
``user_name``; ``scheduled_events__event_guests``;
``invitees__questions_and_answers``: ``question``, ``answer``, ``position``)
are created by dlt from the nested lists."""
