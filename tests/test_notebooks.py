"""Every notebook under notebooks/ runs top to bottom on the demo's data, headless.

Notebooks are stored as jupytext percent-format ``.py`` files (diffable, no
outputs); jupytext reads one into a notebook and nbclient executes it. A cell
that raises fails the test (nbclient's ``CellExecutionError``).

The ``python3`` kernel is pinned to the interpreter running the tests: a
kernel spec pointing at ``sys.executable`` is written to a temporary folder
put first on ``JUPYTER_PATH``, so no ``ipykernel install`` is needed and no
other Python on the machine is picked up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

from calendly_elt.models.charts import CHARTS

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


@pytest.fixture
def current_python_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "python3"


def test_the_metrics_notebook_exists_and_is_stored_diffable() -> None:
    assert "explore_metrics.py" in {path.name for path in NOTEBOOKS}
    assert not list(NOTEBOOKS[0].parent.glob("*.ipynb")), "notebooks are kept as .py only"


def test_the_notebook_draws_with_project_code_only() -> None:
    text = (NOTEBOOKS[0].parent / "explore_metrics.py").read_text(encoding="utf-8")
    assert "matplotlib" not in text.replace("%matplotlib inline", "")
    for chart in CHARTS:
        assert f"charts.{chart.draw.__name__}(data)" in text, chart.chart_id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(
    path: Path,
    current_python_kernel: str,
    tmp_path: Path,
    demo_duckdb: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALENDLY_ELT_DUCKDB", str(demo_duckdb))  # the kernel inherits it
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook,
        kernel_name=current_python_kernel,
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    if path.name == "explore_metrics.py":
        images = [output for output in outputs if "image/png" in output.get("data", {})]
        assert len(images) == len(CHARTS)
        text = json.dumps(outputs)
        assert "Top UTM sources by bookings" in text
