"""The headline metrics report, read from the marts (``calendly-elt report``).

Readable at a glance in a terminal:

- a header (:mod:`calendly_elt.models.report_context`): the ``as_of`` the marts
  were built for, the data's extent (first and last meeting loaded) and the last successful run;
- top UTM sources by bookings, with show and cancellation rates;
- top UTM campaigns by bookings, the same figures;
- no-show and cancellation rates by month (of the meetings' start).

``json`` and ``csv`` give the same figures for machines (the header as the
``context`` object, or ``context`` rows in CSV); rates are fractions (0.25),
null/empty when their denominator is 0. Other formats (an HTML page) reuse
:func:`report_context` for their header.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from calendly_elt.models.report_context import (
    ReportContext,
    marts_missing,
    query_rows,
    read_context,
)
from calendly_elt.models.runner import analytics_schema_of, render_target_for, warehouse_client
from calendly_elt.models.transpile import render_sql

ReportFormat = Literal["table", "json", "csv"]
FORMATS: tuple[str, ...] = ("table", "json", "csv")
TOP_SOURCES = 10

_SOURCES_SQL = """
select
    utm_source,
    sum(bookings) as bookings,
    sum(completed) as completed,
    sum(no_shows) as no_shows,
    sum(canceled) as canceled
from {{ ref('metrics_utm_attribution') }}
group by utm_source
"""

_CAMPAIGNS_SQL = """
select
    utm_campaign,
    sum(bookings) as bookings,
    sum(completed) as completed,
    sum(no_shows) as no_shows,
    sum(canceled) as canceled
from {{ ref('metrics_utm_attribution') }}
group by utm_campaign
"""

_NO_SHOWS_SQL = """
select month, sum(held) as held, sum(no_shows) as no_shows
from {{ ref('metrics_no_shows') }}
group by month
"""

_CANCELLATIONS_SQL = """
select
    month,
    sum(bookings) as bookings,
    sum(canceled) as canceled,
    sum(late_cancellations) as late_cancellations
from {{ ref('metrics_cancellations') }}
group by month
"""


@dataclass(frozen=True)
class SourceLine:
    """Bookings of one first-touch UTM source."""

    utm_source: str
    bookings: int
    completed: int
    no_shows: int
    canceled: int
    show_rate: float | None
    cancellation_rate: float | None


@dataclass(frozen=True)
class MonthLine:
    """Bookings whose meeting starts in one UTC month."""

    month: date
    bookings: int
    held: int
    no_shows: int
    canceled: int
    late_cancellations: int
    no_show_rate: float | None
    cancellation_rate: float | None


@dataclass(frozen=True)
class CampaignLine:
    """Bookings of one first-touch UTM campaign."""

    utm_campaign: str
    bookings: int
    completed: int
    no_shows: int
    canceled: int
    show_rate: float | None
    cancellation_rate: float | None


@dataclass(frozen=True)
class Report:
    """The figures of the report and what they reflect."""

    context: ReportContext
    sources: list[SourceLine]
    campaigns: list[CampaignLine]
    months: list[MonthLine]


def render_report(pipeline: dlt.Pipeline, *, fmt: str = "table") -> str:
    """Read the marts of ``pipeline`` and render the headline metrics.

    Args:
        pipeline: the pipeline whose destination holds the built marts.
        fmt: ``table`` (terminal), ``json`` or ``csv``.

    Returns:
        The report text.

    Raises:
        MartsMissingError: the marts have not been built yet.
        ValueError: unknown ``fmt``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    report = read_report(pipeline)
    renderers = {"table": _as_table, "json": _as_json, "csv": _as_csv}
    return renderers[fmt](report)


def read_report(pipeline: dlt.Pipeline) -> Report:
    """Query the marts for the report's figures (all sources, campaigns and months)."""
    with warehouse_client(pipeline) as client:
        target = render_target_for(client, analytics_schema_of(pipeline))
        try:
            context = read_context(client, target)
            sources = query_rows(client, render_sql(_SOURCES_SQL, target))
            campaigns = query_rows(client, render_sql(_CAMPAIGNS_SQL, target))
            no_shows = query_rows(client, render_sql(_NO_SHOWS_SQL, target))
            cancellations = query_rows(client, render_sql(_CANCELLATIONS_SQL, target))
        except DatabaseUndefinedRelation as error:
            raise marts_missing(pipeline) from error
    return Report(
        context=context,
        sources=_source_lines(sources),
        campaigns=_campaign_lines(campaigns),
        months=_month_lines(no_shows, cancellations),
    )


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _source_lines(rows: list[tuple[Any, ...]]) -> list[SourceLine]:
    lines = [
        SourceLine(
            utm_source=str(source),
            bookings=int(bookings),
            completed=int(completed),
            no_shows=int(no_shows),
            canceled=int(canceled),
            show_rate=_rate(int(completed), int(completed) + int(no_shows)),
            cancellation_rate=_rate(int(canceled), int(bookings)),
        )
        for source, bookings, completed, no_shows, canceled in rows
    ]
    return sorted(lines, key=lambda line: (-line.bookings, line.utm_source))


def _campaign_lines(rows: list[tuple[Any, ...]]) -> list[CampaignLine]:
    """The same figures as the sources', by campaign (sorted by bookings)."""
    return [
        CampaignLine(
            utm_campaign=line.utm_source,
            bookings=line.bookings,
            completed=line.completed,
            no_shows=line.no_shows,
            canceled=line.canceled,
            show_rate=line.show_rate,
            cancellation_rate=line.cancellation_rate,
        )
        for line in _source_lines(rows)
    ]


def _month_lines(
    no_shows: list[tuple[Any, ...]], cancellations: list[tuple[Any, ...]]
) -> list[MonthLine]:
    held_by_month = {_as_date(month): (int(held), int(shows)) for month, held, shows in no_shows}
    lines = []
    for month, bookings, canceled, late in cancellations:
        held, missed = held_by_month.get(_as_date(month), (0, 0))
        lines.append(
            MonthLine(
                month=_as_date(month),
                bookings=int(bookings),
                held=held,
                no_shows=missed,
                canceled=int(canceled),
                late_cancellations=int(late),
                no_show_rate=_rate(missed, held),
                cancellation_rate=_rate(int(canceled), int(bookings)),
            )
        )
    return sorted(lines, key=lambda line: line.month)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _as_table(report: Report) -> str:
    source_rows = [
        [
            line.utm_source,
            str(line.bookings),
            _percent(line.show_rate),
            _percent(line.cancellation_rate),
        ]
        for line in report.sources[:TOP_SOURCES]
    ]
    month_rows = [
        [
            line.month.strftime("%Y-%m"),
            str(line.bookings),
            str(line.held),
            _percent(line.no_show_rate),
            str(line.canceled),
            _percent(line.cancellation_rate),
            str(line.late_cancellations),
        ]
        for line in report.months
    ]
    sources = _grid(["utm_source", "bookings", "show rate", "cancel rate"], source_rows)
    hidden = len(report.sources) - TOP_SOURCES
    if hidden > 0:
        sources += f"\n... and {hidden} more (--format json or csv lists every source)"
    campaign_rows = [
        [
            line.utm_campaign,
            str(line.bookings),
            _percent(line.show_rate),
            _percent(line.cancellation_rate),
        ]
        for line in report.campaigns[:TOP_SOURCES]
    ]
    campaigns = _grid(["utm_campaign", "bookings", "show rate", "cancel rate"], campaign_rows)
    hidden = len(report.campaigns) - TOP_SOURCES
    if hidden > 0:
        campaigns += f"\n... and {hidden} more (--format json or csv lists every campaign)"
    months = _grid(
        ["month", "bookings", "held", "no-show rate", "canceled", "cancel rate", "late"],
        month_rows,
    )
    header = "\n".join(report.context.lines())
    return (
        f"{header}\n\n"
        f"Top UTM sources by bookings (first touch)\n{sources}\n\n"
        f"Top UTM campaigns by bookings (first touch)\n{campaigns}\n\n"
        f"No-shows and cancellations by month of the meeting\n{months}\n"
    )


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _as_json(report: Report) -> str:
    document = {
        "context": report.context.as_dict(),
        "utm_sources": [asdict(line) for line in report.sources],
        "utm_campaigns": [asdict(line) for line in report.campaigns],
        "months": [{**asdict(line), "month": line.month.isoformat()} for line in report.months],
    }
    return json.dumps(document, indent=2)


CSV_COLUMNS = (
    "section",
    "name",
    "value",
    "utm_source",
    "utm_campaign",
    "month",
    "bookings",
    "completed",
    "held",
    "no_shows",
    "canceled",
    "late_cancellations",
    "show_rate",
    "no_show_rate",
    "cancellation_rate",
)


def _as_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    for name, value in report.context.as_dict().items():
        writer.writerow(
            {"section": "context", "name": name, "value": _blank_nones({"v": value})["v"]}
        )
    for source in report.sources:
        writer.writerow({"section": "utm_source", **_blank_nones(asdict(source))})
    for campaign in report.campaigns:
        writer.writerow({"section": "utm_campaign", **_blank_nones(asdict(campaign))})
    for month in report.months:
        row = {**asdict(month), "month": month.month.isoformat()}
        writer.writerow({"section": "month", **_blank_nones(row)})
    return buffer.getvalue()


def _blank_nones(row: dict[str, Any]) -> dict[str, Any]:
    return {key: ("" if value is None else value) for key, value in row.items()}
