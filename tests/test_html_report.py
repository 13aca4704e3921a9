"""The charts and ``calendly-elt report --html``, the page checked in real headless Chromium.

The browser test skips when no Chromium is installed, except under CI
(``CI=true``), where a missing browser is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from model_fixtures import duckdb_pipeline, load_store, postgres_pipeline
from PIL import Image

from calendly_elt.cli.main import main
from calendly_elt.models import charts
from calendly_elt.models.html_report import render_page
from calendly_elt.models.report_context import report_context
from calendly_elt.models.runner import analytics_schema_of, build_models
from calendly_elt.runner import make_pipeline
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization

WIDTH = 1200
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def html_page(demo_duckdb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["report", "--duckdb", str(demo_duckdb), "--html", str(page)]) == 0
    return page


@pytest.fixture(scope="module")
def demo_data(demo_duckdb: Path) -> charts.ChartData:
    return charts.read_chart_data(make_pipeline(duckdb_path=demo_duckdb))


def _browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium under CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    return found


def _chromium(page: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    return subprocess.run(
        [*command, *arguments, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_every_chart_draws_a_figure_on_demo_data(demo_data: charts.ChartData) -> None:
    for chart in charts.CHARTS:
        figure = chart.draw(demo_data)
        assert isinstance(figure, Figure)
        assert figure.axes, chart.chart_id
        texts = [text.get_text() for axes in figure.axes for text in axes.texts]
        assert not [text for text in texts if text.startswith("no data")], chart.chart_id


def test_a_chart_without_data_says_so(demo_data: charts.ChartData) -> None:
    empty = charts.ChartData(
        **{field.name: getattr(demo_data, field.name).iloc[0:0] for field in fields(demo_data)}
    )
    for chart in charts.CHARTS:
        figure = chart.draw(empty)
        texts = [text.get_text() for axes in figure.axes for text in axes.texts]
        assert any(text.startswith("no data") for text in texts), chart.chart_id
    page = render_page(empty, [("as_of", "-")])
    assert page.count("<img ") == len(charts.CHARTS)


def test_cancellation_lead_buckets() -> None:
    assert charts.lead_bucket(-3) == "after start"
    assert charts.lead_bucket(0.5) == "< 1 h"
    assert charts.lead_bucket(23.9) == "1-24 h"
    assert charts.lead_bucket(24) == "1-3 d"
    assert charts.lead_bucket(10_000) == "> 4 wk"


def test_the_page_is_self_contained_and_states_its_extent(
    html_page: Path, demo_duckdb: Path
) -> None:
    text = html_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "http://" not in text.replace("http://www.w3.org", "")
    for chart in charts.CHARTS:
        assert f'id="chart-{chart.chart_id}"' in text
        assert f"<figcaption>{chart.title}</figcaption>" in text
    context = report_context(make_pipeline(duckdb_path=demo_duckdb))
    assert context.meetings > 0 and context.as_of is not None
    header = text[text.index("<header>") : text.index("</header>")]
    assert f"<dt>as_of</dt><dd>{context.as_of:%Y-%m-%d %H:%M:%S} UTC" in header
    assert f"({context.meetings} meetings)" in header
    for moment in (context.first_meeting_at, context.last_meeting_at):
        assert moment is not None and moment.date().isoformat() in header


def test_html_into_a_missing_folder_is_one_clear_error(
    demo_duckdb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nowhere" / "report.html"
    assert main(["report", "--duckdb", str(demo_duckdb), "--html", str(target)]) == 2
    assert f"the folder {target.parent} does not exist" in capsys.readouterr().err
    assert not target.parent.exists()


def test_the_page_renders_every_chart_in_headless_chromium(html_page: Path, tmp_path: Path) -> None:
    dom = _chromium(html_page, "--dump-dom").stdout
    for chart in charts.CHARTS:
        assert f'id="chart-{chart.chart_id}"' in dom, chart.chart_id
    # each image's place on the page, as the browser laid it out
    boxes = _image_boxes(html_page, tmp_path)
    assert set(boxes) == {chart.chart_id for chart in charts.CHARTS}
    height = max(top + tall for _, top, _, tall in boxes.values()) + 50
    shot = tmp_path / "page.png"
    _chromium(html_page, f"--screenshot={shot}", f"--window-size={WIDTH},{height}")
    image = Image.open(shot).convert("RGB")
    for chart_id, (left, top, wide, tall) in boxes.items():
        assert wide > 200 and tall > 100, (chart_id, wide, tall)
        region = image.crop((left, top, left + wide, top + tall))
        colours = region.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20, f"{chart_id} is blank in the screenshot"
        assert top + tall <= image.height, f"{chart_id} is below the screenshot"


_LAYOUT_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const boxes = [...document.querySelectorAll("img[id^=chart-]")].map((img) => {
    const box = img.getBoundingClientRect();
    return [img.id.slice(6), box.left, box.top + window.scrollY, box.width, box.height].join(",");
  });
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = boxes.join(";");
  document.body.appendChild(out);
});
</script>
"""


def _image_boxes(page: Path, folder: Path) -> dict[str, tuple[int, int, int, int]]:
    """Each chart image's box (left, top, width, height in CSS px) as Chromium lays it out."""
    probe = folder / "probe.html"
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _LAYOUT_SCRIPT + "</body>"),
        encoding="utf-8",
    )
    dom = _chromium(probe, f"--window-size={WIDTH},2000", "--dump-dom").stdout
    found = re.search(r'<pre id="layout">([^<]*)</pre>', dom)
    assert found, "the layout probe did not run"
    boxes = {}
    for entry in found.group(1).split(";"):
        chart_id, *numbers = entry.split(",")
        left, top, wide, tall = (round(float(number)) for number in numbers)
        boxes[chart_id] = (left, top, wide, tall)
    return boxes


@pytest.mark.postgres
def test_postgres_marts_draw_the_same_charts(postgres_dsn: str, tmp_path: Path) -> None:
    store = generate_organization(seed=3, size="tiny")
    dataset = f"calendly_charts_{uuid.uuid4().hex[:8]}"
    duck = duckdb_pipeline(tmp_path)
    postgres = postgres_pipeline(tmp_path, postgres_dsn, dataset, name=dataset)
    try:
        for pipeline in (duck, postgres):
            load_store(pipeline, store)
            build_models(pipeline, as_of=DEFAULT_NOW)
        on_duckdb, on_postgres = charts.read_chart_data(duck), charts.read_chart_data(postgres)
        for field in fields(on_duckdb):
            left, right = (
                _comparable(getattr(data, field.name)) for data in (on_duckdb, on_postgres)
            )
            pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=field.name)
        page = render_page(on_postgres, [("as_of", DEFAULT_NOW.isoformat())])
        assert page.count('<img id="chart-') == len(charts.CHARTS)
    finally:
        with postgres.sql_client() as client:
            for schema in (dataset, analytics_schema_of(postgres)):
                client.execute_sql(f'drop schema if exists "{schema}" cascade')


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted, numbers as floats, dates as dates: the same rows compare equal."""
    converted = frame.copy()
    for name in converted.columns:
        column = converted[name]
        if column.map(lambda value: isinstance(value, Decimal)).any():
            column = column.astype(float)
        if pd.api.types.is_numeric_dtype(column):
            column = column.astype(float).round(9)
        elif name in ("week", "month"):
            column = pd.to_datetime(column).dt.date
        converted[name] = column
    return converted.sort_values(list(converted.columns)).reset_index(drop=True)
