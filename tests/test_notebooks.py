"""Every notebook under notebooks/ runs top to bottom without errors.

The ``python3`` kernel is pinned to the interpreter running the tests: a
kernel spec pointing at ``sys.executable`` is written to a temporary folder
put first on ``JUPYTER_PATH``, so no ``ipykernel install`` is needed and no
other Python on the machine is picked up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


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


def test_the_metrics_notebook_exists() -> None:
    assert "explore_metrics.ipynb" in {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, current_python_kernel: str, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=current_python_kernel,
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    if path.name == "explore_metrics.ipynb":
        text = json.dumps(outputs)
        assert "Top UTM sources by bookings" in text
        assert "failing SQL tests: []" in text
        assert notebook.cells[-1].outputs[-1]["data"]["text/plain"] == "False"  # workdir removed
