"""``calendly-elt report --html FILE``: every chart of :mod:`charts` on one page.

The page is self-contained: each chart is a PNG inlined as a ``data:`` URI,
the style sheet is inline, nothing is fetched from anywhere. Each chart is an
``<img id="chart-<chart id>">`` in a ``<figure>``, titled; the header states
what the data cover (:class:`DataExtent`).

``as_of`` is not stored by the model build: when the caller does not pass it,
the header gives the bounds the marts imply (the latest meeting judged held,
the earliest one still upcoming).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dlt.destinations.exceptions import DatabaseUndefinedRelation
from matplotlib.figure import Figure

from calendly_elt.errors import ConfigError
from calendly_elt.models.charts import CHARTS, ChartData, read_chart_data
from calendly_elt.models.errors import MartsMissingError
from calendly_elt.models.runner import analytics_schema_of, render_target_for, warehouse_client
from calendly_elt.models.transpile import render_sql

DPI = 96

_EXTENT_SQL = """
select
    count(*) as bookings,
    min(start_at) as first_meeting_at,
    max(start_at) as last_meeting_at,
    max(booked_at) as last_booked_at,
    max(case when outcome in ('completed', 'no_show') then start_at end) as last_held_at,
    min(case when outcome = 'upcoming' then start_at end) as first_upcoming_at
from {{ ref('fct_bookings') }}
"""

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
header dt { font-weight: bold; }
figure { margin: 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 1.2em; font-weight: bold; margin-bottom: 0.5em; }
"""


@dataclass(frozen=True)
class DataExtent:
    """What the marts cover: their bookings' meetings and when the last one was booked."""

    bookings: int
    first_meeting_at: datetime | None
    last_meeting_at: datetime | None
    last_booked_at: datetime | None
    last_held_at: datetime | None
    first_upcoming_at: datetime | None


def read_extent(pipeline: Any) -> DataExtent:
    """Read the data's extent from ``fct_bookings``.

    Raises:
        MartsMissingError: the marts have not been built yet.
    """
    schema = analytics_schema_of(pipeline)
    with warehouse_client(pipeline) as client:
        target = render_target_for(client, schema)
        try:
            row = next(iter(client.execute_sql(render_sql(_EXTENT_SQL, target))))
        except DatabaseUndefinedRelation as error:
            raise MartsMissingError(
                f"no marts in {schema} yet: run `calendly-elt run` or `calendly-elt models` first"
            ) from error
    return DataExtent(int(row[0]), *row[1:])


def header_lines(extent: DataExtent, as_of: datetime | None = None) -> list[tuple[str, str]]:
    """The header's (label, value) lines: ``as_of`` and the data's extent."""
    if as_of is not None:
        judged = _moment(as_of)
    else:
        judged = (
            f"not recorded by the build; between {_moment(extent.last_held_at)} (latest meeting"
            f" judged held) and {_moment(extent.first_upcoming_at)} (earliest still upcoming)"
        )
    return [
        ("as_of", judged),
        ("bookings", str(extent.bookings)),
        ("first meeting", _moment(extent.first_meeting_at)),
        ("last meeting", _moment(extent.last_meeting_at)),
        ("last booking made", _moment(extent.last_booked_at)),
    ]


def _moment(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat()


def figure_png(figure: Figure) -> str:
    """``figure`` as a base64 PNG ``data:`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(pipeline: Any, *, header: list[tuple[str, str]] | None = None) -> str:
    """The page of ``pipeline``'s marts: the header (default: :func:`header_lines`), every chart.

    Raises:
        MartsMissingError: the marts have not been built yet.
    """
    data = read_chart_data(pipeline)
    return render_page(data, header if header is not None else header_lines(read_extent(pipeline)))


def render_page(data: ChartData, header: list[tuple[str, str]]) -> str:
    """The HTML page of ``data``'s charts under ``header``'s (label, value) lines."""
    facts = "\n".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in header
    )
    figures = "\n".join(
        f'<figure id="{chart.chart_id}"><figcaption>{html.escape(chart.title)}</figcaption>'
        f'<img id="chart-{chart.chart_id}" alt="{html.escape(chart.title)}"'
        f' src="{figure_png(chart.draw(data))}"></figure>'
        for chart in CHARTS
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Calendly metrics</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<header><h1>Calendly metrics</h1><dl>\n{facts}\n</dl></header>\n"
        f"<main>\n{figures}\n</main>\n</body></html>\n"
    )


def write_html(pipeline: Any, path: Path, *, header: list[tuple[str, str]] | None = None) -> None:
    """Write :func:`render_html` to ``path``.

    Raises:
        ConfigError: ``path``'s folder does not exist.
        MartsMissingError: the marts have not been built yet.
    """
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"--html {path}: the folder {folder} does not exist")
    path.write_text(render_html(pipeline, header=header), encoding="utf-8")
