"""Configuration resolution, window planning and the run cursor (pure units)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calendly_elt.calendly.config import resolve_settings
from calendly_elt.calendly.helpers.checkpoints import SyncState
from calendly_elt.calendly.helpers.invitee_selection import InviteeSelection
from calendly_elt.calendly.helpers.known_data import KnownData, KnownEvent
from calendly_elt.calendly.helpers.no_shows import NoShowRecheck
from calendly_elt.calendly.helpers.windows import (
    RunRequest,
    Window,
    default_backfill_start,
    merge_ranges,
    split_windows,
)
from calendly_elt.errors import ConfigError

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
ENV = (
    "CALENDLY_ACCESS_TOKEN",
    "CALENDLY_BASE_URL",
    "CALENDLY_CLIENT_ID",
    "CALENDLY_CLIENT_SECRET",
    "CALENDLY_REFRESH_TOKEN",
    "SOURCES__CALENDLY__ACCESS_TOKEN",
    "SOURCES__CALENDLY__BASE_URL",
    "SOURCES__CALENDLY__LOOKBACK_DAYS",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_calendly_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "pat-123")
    monkeypatch.setenv("CALENDLY_BASE_URL", "http://127.0.0.1:8765/")
    settings = resolve_settings()
    assert settings.access_token == "pat-123"
    assert settings.base_url == "http://127.0.0.1:8765"
    assert settings.auth_method == "personal_access_token"
    assert settings.lookback_days == 30 and settings.horizon_days == 365
    assert settings.window_days == 30 and settings.max_concurrency == 16
    assert settings.requests_per_minute is None  # follow what Calendly announces
    assert "pat-123" not in repr(settings)


def test_precedence_explicit_then_dlt_then_calendly_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "from-calendly-env")
    monkeypatch.setenv("SOURCES__CALENDLY__ACCESS_TOKEN", "from-dlt-env")
    monkeypatch.setenv("SOURCES__CALENDLY__LOOKBACK_DAYS", "7")
    assert resolve_settings().access_token == "from-dlt-env"
    assert resolve_settings().lookback_days == 7
    assert resolve_settings(access_token="explicit").access_token == "explicit"
    assert resolve_settings(lookback_days=3).lookback_days == 3


def test_empty_strings_count_as_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__CALENDLY__ACCESS_TOKEN", "")
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", "pat-456")
    assert resolve_settings().access_token == "pat-456"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lookback_days": "soon"}, "lookback_days must be a whole number"),
        ({"window_days": 0}, "window_days must be at least 1"),
        ({"window_days": 100_000_000}, "window_days must be at most 36500"),
        ({"max_concurrency": 1000}, "max_concurrency must be at most 64"),
        ({"scope": "team"}, "scope must be 'organization' or 'user'"),
        ({"start_date": "yesterday"}, "start_date must be a date like 2024-01-31"),
        ({"base_url": "api.calendly.com"}, r"base_url must be an http\(s\) URL"),
        ({"organization": "acme"}, "organization must be an organization URI like https"),
    ],
)
def test_invalid_values_name_the_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_settings(access_token="pat", **overrides)


def test_incomplete_oauth_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="set CALENDLY_CLIENT_SECRET, CALENDLY_REFRESH_TOKEN"):
        resolve_settings(client_id="app")
    oauth = resolve_settings(client_id="app", client_secret="s", refresh_token="r")
    assert oauth.auth_method == "oauth"


def test_start_date_accepts_dates_and_timestamps() -> None:
    assert resolve_settings(access_token="p", start_date="2024-02-01").start_date == datetime(
        2024, 2, 1, tzinfo=UTC
    )
    stamp = resolve_settings(access_token="p", start_date="2024-02-01T10:00:00+02:00")
    assert stamp.start_date == datetime(2024, 2, 1, 8, tzinfo=UTC)


def test_windows_split_a_range_into_half_open_pieces() -> None:
    windows = split_windows(NOW, NOW + timedelta(days=65), 30)
    assert windows == [
        Window(NOW, NOW + timedelta(days=30)),
        Window(NOW + timedelta(days=30), NOW + timedelta(days=60)),
        Window(NOW + timedelta(days=60), NOW + timedelta(days=65)),
    ]
    assert windows[0].query() == {
        "min_start_time": "2026-01-15T12:00:00.000000Z",
        "max_start_time": "2026-02-14T12:00:00.000000Z",
    }
    assert windows[0].contains(NOW) and not windows[0].contains(NOW + timedelta(days=30))
    assert split_windows(NOW, NOW, 30) == []


def test_default_backfill_starts_two_years_back_at_midnight() -> None:
    assert default_backfill_start(NOW) == datetime(2024, 1, 15, tzinfo=UTC)
    assert default_backfill_start(datetime(2028, 2, 29, 5, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )


def test_merge_ranges_joins_touching_and_overlapping() -> None:
    day = timedelta(days=1)
    merged = merge_ranges(
        [(NOW + 3 * day, NOW + 4 * day), (NOW, NOW + day), (NOW + day, NOW + 2 * day)]
    )
    assert merged == [(NOW, NOW + 2 * day), (NOW + 3 * day, NOW + 4 * day)]


def _request(now: datetime = NOW, **kwargs: object) -> RunRequest:
    return RunRequest(now=now, start_date=None, lookback_days=30, horizon_days=365, **kwargs)


def test_run_cursor_plans_backfill_then_incremental_and_resumes_a_crash() -> None:
    state: dict[str, object] = {}
    sync = SyncState(state)
    backfill = sync.begin_run(_request())
    assert (backfill.kind, backfill.range_start) == ("backfill", datetime(2024, 1, 15, tzinfo=UTC))
    assert backfill.range_end == NOW + timedelta(days=365)
    window = backfill.remaining_windows(30)[0]
    sync.complete_window(backfill, window, events=5, calls=5)
    # the process dies here; the next run resumes at the next window
    later = NOW + timedelta(hours=2)
    resumed = SyncState(state).begin_run(_request(later))
    assert resumed.kind == "backfill" and resumed.next_start == window.end
    assert resumed.range_end == later + timedelta(days=365)
    SyncState(state).finish_run(resumed, requests=10, finished_at=later)
    incremental = SyncState(state).begin_run(_request(NOW + timedelta(days=1)))
    assert incremental.kind == "incremental"
    assert incremental.range_start == NOW - timedelta(days=30)  # last success - lookback
    assert not incremental.refetch_all
    refresh = SyncState(state).begin_run(_request(NOW + timedelta(days=1), full_refresh=True))
    assert (refresh.kind, refresh.range_start, refresh.refetch_all) == (
        "full_refresh",
        datetime(2024, 1, 15, tzinfo=UTC),
        True,
    )


def test_a_first_backfill_starting_beyond_the_horizon_is_refused() -> None:
    state: dict[str, object] = {}
    beyond = RunRequest(
        now=NOW, start_date=NOW + timedelta(days=400), lookback_days=30, horizon_days=365
    )
    with pytest.raises(ConfigError, match="start_date 2027-02-19 is after now"):
        SyncState(state).begin_run(beyond)
    assert state.get("run") is None  # nothing planned, nothing recorded
    # a start inside the horizon is a (short) backfill
    soon = RunRequest(
        now=NOW, start_date=NOW + timedelta(days=10), lookback_days=30, horizon_days=365
    )
    cursor = SyncState(state).begin_run(soon)
    assert (cursor.kind, cursor.range_start) == ("backfill", NOW + timedelta(days=10))


def test_fingerprints_decide_which_invitees_to_fetch() -> None:
    updated = NOW - timedelta(days=3)
    event = {
        "uri": "https://api.calendly.com/scheduled_events/E1",
        "updated_at": updated,
        "status": "active",
        "invitees_counter": {"total": 1, "active": 1},
        "start_time": NOW - timedelta(days=10),
        "end_time": NOW - timedelta(days=10) + timedelta(minutes=30),
    }

    def known_read_at(read_at: datetime) -> KnownData:
        loaded = KnownEvent(
            event["start_time"], event["end_time"], (updated, "active", 1, 1), read_at
        )
        return KnownData(events={event["uri"]: loaded})

    ages = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30))

    def wants(row: dict, known: KnownData, *, refetch_all: bool = False, rechecks=ages) -> bool:
        return InviteeSelection(known, refetch_all, NoShowRecheck(rechecks)).wants(row, NOW)

    # read a day ago: its last passed age (7 d after its end, 3 days ago) is behind that read
    recent = known_read_at(NOW - timedelta(days=1))
    assert not wants(event, recent)
    assert wants(event, recent, refetch_all=True)
    # read before its 7 d age passed: due a no-show recheck
    long_ago = known_read_at(NOW - timedelta(days=5))
    assert wants(event, long_ago)
    assert not wants(event, long_ago, rechecks=())  # rechecks off
    changed = {**event, "invitees_counter": {"total": 2, "active": 2}}
    assert wants(changed, recent)
    new = {**event, "uri": "https://api.calendly.com/scheduled_events/E2"}
    assert wants(new, recent)
    known = recent
    window = Window(NOW - timedelta(days=30), NOW)
    assert known.vanished_events(window, set()) == [event["uri"]]
    assert known.vanished_events(window, {event["uri"]}) == []


def test_oauth_secrets_from_the_calendly_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALENDLY_CLIENT_ID", "app-1")
    monkeypatch.setenv("CALENDLY_CLIENT_SECRET", "app-secret")
    monkeypatch.setenv("CALENDLY_REFRESH_TOKEN", "refresh-1")
    settings = resolve_settings()
    assert settings.auth_method == "oauth"
    assert (settings.client_id, settings.client_secret, settings.refresh_token) == (
        "app-1",
        "app-secret",
        "refresh-1",
    )
    assert "app-secret" not in repr(settings) and "refresh-1" not in repr(settings)


def test_dlt_toml_files_under_sources_calendly_are_read(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        '[sources.calendly]\naccess_token = "pat-from-secrets-toml"\n'
    )
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[sources.calendly]\nwindow_days = 7\nscope = "user"\n'
    )
    # dlt finds .dlt/ from the working directory once per process: read it in a fresh one
    show = (
        "from calendly_elt.calendly.config import resolve_settings; s = resolve_settings(); "
        "print(s.access_token, s.window_days, s.scope)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDLY_", "SOURCES__"))}
    done = subprocess.run(
        [sys.executable, "-c", show], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pat-from-secrets-toml", "7", "user"]
