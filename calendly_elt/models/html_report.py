"""``calendly-elt report --html FILE``: every chart of :mod:`charts` on one page.

The page is self-contained: each chart is a PNG inlined as a ``data:`` URI,
the style sheet is inline, nothing is fetched from anywhere. Each chart is an
``<img id="chart-<chart id>">`` in a ``<figure>``, titled; the header states
the ``as_of`` the marts were built at, the meetings loaded and the last
successful run, as every other report format does (:func:`report_context`).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from calendly_elt.errors import ConfigError
from calendly_elt.models.charts import CHARTS, ChartData, read_chart_data
from calendly_elt.models.report_context import ReportContext, report_context

DPI = 96

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
header dt { font-weight: bold; }
figure { margin: 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 1.2em; font-weight: bold; margin-bottom: 0.5em; }
"""


def header_lines(context: ReportContext) -> list[tuple[str, str]]:
    """The header's (label, value) lines: the same as_of, extent and last run as every report."""
    return [tuple(line.split(": ", 1)) for line in context.lines()]  # type: ignore[misc]


def figure_png(figure: Figure) -> str:
    """``figure`` as a base64 PNG ``data:`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(pipeline: Any, *, header: list[tuple[str, str]] | None = None) -> str:
    """The page of ``pipeline``'s marts: the header (default: the report's), every chart.

    Raises:
        MartsMissingError: the marts have not been built yet.
    """
    if header is None:
        header = header_lines(report_context(pipeline))
    return render_page(read_chart_data(pipeline), header)


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
