"""Webhook merge: landed deliveries into the raw tables, between batch runs.

``calendly-elt webhooks serve`` lands every verified delivery in JSON Lines
files (``calendly_elt/webhooks/landing.py``). Each run (and ``webhooks
load``) reads the deliveries landed since the last merge and:

- loads every one into ``webhook_events`` (one row per delivery, merged on
  its id, so a redelivery or a re-read is one row);
- merges the state they carry into the tables a batch run fills: the invitee
  of ``invitee.*`` / ``invitee_no_show.*`` deliveries into ``invitees`` and
  its embedded event into ``scheduled_events``; ``event_type.*`` into
  ``event_types``; ``routing_form_submission.created`` into
  ``routing_form_submissions``. Unknown event names are landed, not merged.

The rule between batch and webhook state: **a delivery is applied when it
was created after the batch last read that record**, and of several
deliveries for one record the last created wins. For an invitee (and its
event) the batch's read is ``scheduled_events.invitees_read_at``, when the
run that last read the event's invitees started; for event types and
submissions it is the start of the last successful run (they are read every
run). So a later batch re-read stays authoritative, and a no-show marked
weeks after a meeting outside every re-read window still reaches the marts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt

from calendly_elt.calendly.helpers.checkpoints import SyncState, iso, moment
from calendly_elt.calendly.helpers.known_data import READ_AT, KnownData, read_known_data
from calendly_elt.calendly.helpers.quarantine import as_quarantine, split_valid
from calendly_elt.calendly.helpers.rows import Row, live_row, to_utc_datetimes
from calendly_elt.calendly.run_options import SourceInputs
from calendly_elt.calendly.settings import COLUMN_HINTS
from calendly_elt.webhooks.landing import LandedDelivery, iter_deliveries

logger = logging.getLogger(__name__)

INVITEE_EVENTS = frozenset(
    {"invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted"}
)
EVENT_TYPE_EVENTS = frozenset({"event_type.created", "event_type.updated", "event_type.deleted"})
SUBMISSION_EVENTS = frozenset({"routing_form_submission.created"})
# deliveries landed this long before the last merge are read again (merged on id: harmless)
REREAD_MARGIN = timedelta(minutes=5)
WATERMARK = "webhooks_merged_through"


def landed_since(directory: Path, since: datetime | None) -> list[LandedDelivery]:
    """Deliveries of ``directory`` landed after ``since`` (minus a margin), in landing order."""
    if since is None:
        return list(iter_deliveries(directory))
    after = since - REREAD_MARGIN
    return [delivery for delivery in iter_deliveries(directory) if delivery.received_at > after]


def webhook_event_row(delivery: LandedDelivery) -> Row:
    """The ``webhook_events`` row of a delivery: what came, when, about what."""
    payload = delivery.payload
    scheduled = payload.get("scheduled_event") if isinstance(payload, dict) else None
    return {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at,
        "received_at": delivery.received_at,
        "created_by": delivery.body.get("created_by"),
        "subject_uri": payload.get("uri") if isinstance(payload, dict) else None,
        "event_uri": scheduled.get("uri") if isinstance(scheduled, dict) else None,
        "body": delivery.raw_body,
    }


@dataclass
class MergePlan:
    """The rows the deliveries put into the batch tables, by table (one row per uri)."""

    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    skipped_older: int = 0

    def put(self, table: str, row: Row) -> None:
        """Keep ``row`` for ``table`` (a later delivery's row for the same uri replaces it)."""
        self.rows.setdefault(table, {})[row["uri"]] = row

    def tables(self) -> Iterator[tuple[str, list[Row]]]:
        """``(table, rows)`` for every table with rows."""
        for table, rows in self.rows.items():
            if rows:
                yield table, list(rows.values())


def plan_merge(
    deliveries: Iterable[LandedDelivery], known: KnownData, dimensions_read_at: datetime | None
) -> MergePlan:
    """What the deliveries change, by the rule in the module docstring.

    Args:
        deliveries: Landed deliveries (any order).
        known: The live events and invitees loaded (with ``invitees_read_at``).
        dimensions_read_at: The start of the last successful run (event types,
            submissions); None if there was none.
    """
    plan = MergePlan()
    for delivery in sorted(deliveries, key=_created):
        if delivery.event in INVITEE_EVENTS:
            _merge_invitee(plan, delivery, known)
        elif delivery.event in EVENT_TYPE_EVENTS | SUBMISSION_EVENTS:
            _merge_dimension(plan, delivery, dimensions_read_at)
    return plan


def _created(delivery: LandedDelivery) -> datetime:
    return delivery.created_at or delivery.received_at


def _newer(delivery: LandedDelivery, read_at: datetime | None) -> bool:
    return read_at is None or _created(delivery) > read_at


def _merge_invitee(plan: MergePlan, delivery: LandedDelivery, known: KnownData) -> None:
    payload = dict(delivery.payload)
    event = payload.pop("scheduled_event", None)
    event_uri = payload.get("event") or (event or {}).get("uri")
    if not payload.get("uri") or not event_uri:
        logger.warning(
            "webhook %s %s names no invitee or event; not merged", delivery.event, delivery.id
        )
        return
    read_at = known.invitees_read_at(event_uri)
    if not _newer(delivery, read_at):
        plan.skipped_older += 1
        return
    plan.put("invitees", live_row({**payload, "event": event_uri}))
    if isinstance(event, dict) and event.get("uri"):
        plan.put("scheduled_events", {**live_row(event), READ_AT: read_at})


def _merge_dimension(
    plan: MergePlan, delivery: LandedDelivery, dimensions_read_at: datetime | None
) -> None:
    if not delivery.payload.get("uri"):
        return
    if not _newer(delivery, dimensions_read_at):
        plan.skipped_older += 1
        return
    table = "event_types" if delivery.event in EVENT_TYPE_EVENTS else "routing_form_submissions"
    plan.put(table, to_utc_datetimes(delivery.payload))


def merged_through(deliveries: list[LandedDelivery], previous: datetime | None) -> datetime | None:
    """The new watermark: the latest receipt time merged so far."""
    latest = max((delivery.received_at for delivery in deliveries), default=None)
    if previous is None:
        return latest
    return max(previous, latest) if latest else previous


def read_webhook_events(inputs: SourceInputs) -> Iterator[Any]:
    """The ``webhook_events`` resource: new deliveries, and the state they carry merged.

    Reads nothing from Calendly. The watermark (latest receipt time merged) is
    dlt source state, committed with the load, so a failed load merges again.
    """
    source_state = dlt.current.source_state()
    since = moment(source_state.get(WATERMARK))
    deliveries = landed_since(inputs.settings.webhook_landing_dir, since)
    if not deliveries:
        return
    yield [webhook_event_row(delivery) for delivery in deliveries]
    known = read_known_data(dlt.current.pipeline())
    plan = plan_merge(deliveries, known, SyncState(source_state).last_success_at)
    for table, merged in plan.tables():
        rows, bad = split_valid(table, merged)
        if bad:
            yield as_quarantine(bad)
        hints = dlt.mark.make_hints(
            table_name=table,
            write_disposition="merge",
            primary_key="uri",
            columns=COLUMN_HINTS[table],  # type: ignore[arg-type]
        )
        yield dlt.mark.with_hints(rows, hints, create_table_variant=True)
    source_state[WATERMARK] = iso(merged_through(deliveries, since))
    counts = {table: len(merged) for table, merged in plan.tables()}
    logger.info(
        "webhooks: %d deliveries landed since the last merge; merged %s, %d older than the batch",
        len(deliveries),
        counts or "nothing",
        plan.skipped_older,
    )
