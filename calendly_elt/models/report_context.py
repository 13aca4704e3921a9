"""What a report reflects: ``as_of``, the data's extent and the last successful run.

Every report format (table, JSON, CSV, the HTML page) and ``status`` states
this header, read once from the marts, the model-build log and run history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from calendly_elt.models.build_log import last_build, utc
from calendly_elt.models.errors import MartsMissingError
from calendly_elt.models.runner import analytics_schema_of, render_target_for, warehouse_client
from calendly_elt.models.transpile import render_sql
from calendly_elt.runner.run_history import query_runs

_EXTENT_SQL = """
select min(start_at) as first_meeting_at, max(start_at) as last_meeting_at, count(*) as meetings
from {{ ref('fct_meetings') }}
"""


@dataclass(frozen=True)
class ReportContext:
    """What a report reflects: its header, the same in every format.

    Attributes:
        as_of: The instant the marts judged outcomes at (their newest build;
            None if the build was not logged).
        first_meeting_at: Start of the earliest meeting loaded (None: no meetings).
        last_meeting_at: Start of the latest meeting loaded.
        meetings: Meetings (scheduled events) loaded.
        last_successful_run_at: When the newest succeeded run ended (run history).
    """

    as_of: datetime | None
    first_meeting_at: datetime | None
    last_meeting_at: datetime | None
    meetings: int
    last_successful_run_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps as ISO 8601 text (UTC), None stays None."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }

    def lines(self) -> list[str]:
        """The header as ``name: value`` lines for a terminal."""
        extent = (
            f"{_moment(self.first_meeting_at)} .. {_moment(self.last_meeting_at)}"
            f" ({self.meetings} meetings)"
            if self.meetings
            else "no meetings loaded"
        )
        return [
            f"as_of: {_moment(self.as_of)} (outcomes judged at this instant)",
            f"meetings loaded: {extent}",
            f"last successful run: {_moment(self.last_successful_run_at)}",
        ]


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "unknown"


def report_context(pipeline: dlt.Pipeline) -> ReportContext:
    """The header of every report: ``as_of``, the data's extent, the last successful run.

    Raises:
        MartsMissingError: the marts have not been built yet.
    """
    with warehouse_client(pipeline) as client:
        target = render_target_for(client, analytics_schema_of(pipeline))
        try:
            return read_context(client, target)
        except DatabaseUndefinedRelation as error:
            raise marts_missing(pipeline) from error


def marts_missing(pipeline: dlt.Pipeline) -> MartsMissingError:
    """The error for a report asked before any model build."""
    return MartsMissingError(
        f"no marts in {analytics_schema_of(pipeline)} yet: run `calendly-elt run` first"
    )


def read_context(client: Any, target: Any) -> ReportContext:
    """The header, read on an open client of the analytics dataset."""
    ((first, last, meetings),) = query_rows(client, render_sql(_EXTENT_SQL, target))
    build = last_build(client)
    succeeded = query_runs(client, 1, outcome="succeeded")
    return ReportContext(
        as_of=build.as_of if build else None,
        first_meeting_at=utc(first) if first is not None else None,
        last_meeting_at=utc(last) if last is not None else None,
        meetings=int(meetings or 0),
        last_successful_run_at=succeeded[0].ended_at if succeeded else None,
    )


def query_rows(client: Any, sql: str) -> list[tuple[Any, ...]]:
    """``sql``'s rows as tuples (none: an empty list)."""
    return [tuple(row) for row in client.execute_sql(sql) or []]
