"""The whole job with an OAuth app: refresh during the run, rotated token stored, second run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from source_harness import SourceHarness, assert_matches_store

from calendly_elt.calendly import WindowProgress

CLIENT_ID, CLIENT_SECRET = "elt-app", "elt-app-secret"


@pytest.fixture(autouse=True)
def _no_environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CALENDLY_ACCESS_TOKEN", "SOURCES__CALENDLY__ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_oauth_run_refreshes_mid_run_and_a_second_run_uses_the_stored_token(
    tiny_harness: SourceHarness,
) -> None:
    store, sim = tiny_harness.store, tiny_harness.sim
    sim.register_oauth_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/callback")
    owner = store.personal_access_tokens[store.admin_token]
    granted = sim.issue_oauth_tokens(owner, CLIENT_ID)
    settings = tiny_harness.settings(
        access_token="",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=granted["refresh_token"],
    )
    assert settings.auth_method == "oauth"
    pipeline = tiny_harness.pipeline()

    def expire_tokens(update: WindowProgress) -> None:
        if update.windows_done == 10:
            store.clock.advance(timedelta(hours=3))  # every access token is now expired

    first = tiny_harness.run(pipeline, settings=settings, progress=expire_tokens)

    assert sim.stats["POST /oauth/token"] >= 2  # first token, then the mid-run refresh
    stored = json.loads(settings.token_store_path.read_text())
    assert stored["refresh_token"] != granted["refresh_token"]
    assert settings.token_store_path.stat().st_mode & 0o777 == 0o600
    assert first.events == len(store.events)
    assert_matches_store(pipeline, store, ("scheduled_events", "invitees"))

    # the configured (already used) refresh token is stale; the stored one carries on
    store.clock.advance(timedelta(hours=3))
    second = tiny_harness.run(pipeline, settings=settings)
    assert second.kind == "incremental"
    assert (
        json.loads(settings.token_store_path.read_text())["refresh_token"]
        != (stored["refresh_token"])
    )
