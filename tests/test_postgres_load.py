"""PostgreSQL as the destination: full load, incremental run and soft deletes.

Needs ``CALENDLY_ELT_TEST_POSTGRES_DSN`` (``scripts/test-postgres.sh start``
prints one); skipped without it, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dlt
import pytest
from source_harness import SourceHarness, assert_matches_store, table_rows, uuid

from calendly_elt.runner import make_pipeline, read_status
from calendly_elt.simulator import mutations

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_dsn: str
) -> Iterator[dlt.Pipeline]:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    dataset = f"calendly_load_{uuidlib.uuid4().hex[:8]}"
    pipeline = make_pipeline(
        destination="postgres", pipelines_dir=tmp_path / "state", dataset_name=dataset
    )
    yield pipeline
    with pipeline.sql_client() as client:
        client.execute_sql(f'drop schema if exists "{dataset}" cascade')


def test_postgres_load_equals_the_simulator_and_soft_deletes(
    tiny_harness: SourceHarness, postgres_pipeline: dlt.Pipeline
) -> None:
    store = tiny_harness.store
    first = tiny_harness.run(postgres_pipeline)
    assert first.events == len(store.events)
    assert_matches_store(postgres_pipeline, store)

    # one invitee's data is deleted (their only meeting, in the future): soft delete
    emails = [invitee["email"] for invitee in store.invitees.values()]
    doomed = next(
        invitee
        for invitee in store.invitees.values()
        if emails.count(invitee["email"]) == 1
        and store.events[uuid(invitee["event"])]["start_time"] > store.clock.now().isoformat()
    )
    mutations.delete_invitee_data(store, [doomed["email"]])
    store.clock.advance(timedelta(hours=1))
    second = tiny_harness.run(postgres_pipeline)

    assert second.kind == "incremental"
    assert second.deleted >= 1
    rows = {row["uri"]: row for row in table_rows(postgres_pipeline, "invitees")}
    assert rows[doomed["uri"]]["is_deleted"] is True
    assert rows[doomed["uri"]]["deleted_at"] == store.clock.now()
    assert_matches_store(postgres_pipeline, store, ("scheduled_events", "invitees"))
    status = read_status(postgres_pipeline)
    assert status.destination == "postgres"
    assert status.row_counts["invitees"] == (len(store.invitees), len(rows) - len(store.invitees))
