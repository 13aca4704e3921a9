"""Soft deletes: rows that vanished from Calendly stay, marked ``is_deleted``.

A fully re-read window whose listing lacks a known live event means the
event was deleted (data-compliance deletion): the event and its invitees are
marked ``is_deleted = true, deleted_at = now``. Likewise an invitee missing
from a re-fetched invitee list. dlt's merge replaces whole rows, so the marks
are applied by an ``UPDATE`` after the load (:func:`apply_pending_deletions`);
they wait in dlt source state until then (:class:`PendingDeletions`), so a
crash between load and update loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from datetime import datetime
from typing import Any

import dlt

from calendly_elt.calendly.helpers.checkpoints import iso, moment, source_state_of
from calendly_elt.calendly.helpers.loaded import has_loaded_table

logger = logging.getLogger(__name__)

DELETE_CHUNK = 500
_KEY = "pending_deletions"


class PendingDeletions:
    """The deletions found but not yet applied, in the source's dlt state (writes through)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state

    @property
    def by_table(self) -> dict[str, Any]:
        """``{table: [uri, ...], "at": iso}``."""
        return dict(self._state.get(_KEY) or {})

    def clear(self) -> None:
        """Forget applied deletions (they were applied after the previous load)."""
        self._state[_KEY] = {}

    def add(self, table: str, uris: Iterable[str], at: datetime) -> None:
        """Queue ``uris`` of ``table`` to be marked deleted at ``at``."""
        uris = sorted(set(uris))
        if not uris:
            return
        pending = self.by_table
        pending[table] = sorted({*pending.get(table, []), *uris})
        pending.setdefault("at", iso(at))
        self._state[_KEY] = pending


def apply_pending_deletions(pipeline: dlt.Pipeline) -> int:
    """Mark the deletions waiting in state as ``is_deleted`` in the destination.

    Idempotent: rows already marked keep their first ``deleted_at``. Call it
    after every load of the Calendly source.

    Args:
        pipeline: The dlt pipeline that loaded the source.

    Returns:
        How many URIs were queued (marked now or before).
    """
    pending = PendingDeletions(source_state_of(pipeline)).by_table
    deleted_at = moment(pending.pop("at", None))
    marked = 0
    for table, uris in pending.items():
        if uris and has_loaded_table(pipeline, table):
            _mark_deleted(pipeline, table, list(uris), deleted_at)
            marked += len(uris)
    if marked:
        logger.info("marked %d vanished rows as deleted", marked)
    return marked


def _mark_deleted(pipeline: dlt.Pipeline, table: str, uris: list[str], at: datetime | None) -> None:
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        for offset in range(0, len(uris), DELETE_CHUNK):
            chunk = uris[offset : offset + DELETE_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            client.execute_sql(
                f"update {qualified} set is_deleted = true, deleted_at = %s"
                f" where uri in ({marks}) and is_deleted is not true",
                at,
                *chunk,
            )
