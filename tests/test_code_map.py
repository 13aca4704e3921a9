"""DEVELOPING.md stays the map of the code: every module is on it, every path on it exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "DEVELOPING.md"
PATH_IN_BACKTICKS = re.compile(r"`((?:calendly_elt|sql|pipelines|tests|bench)/[^`*<>]+?)`")


def test_every_library_module_is_on_the_map() -> None:
    text = MAP.read_text()
    modules = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "calendly_elt").rglob("*.py")
        if path.read_text().strip()  # an empty __init__.py only marks a package
    )
    missing = [module for module in modules if f"`{module}`" not in text]
    assert missing == []


def test_every_path_on_the_map_exists() -> None:
    named = set(PATH_IN_BACKTICKS.findall(MAP.read_text()))
    assert "calendly_elt/calendly/helpers/paging.py" in named  # the pattern reads the map
    gone = sorted(path for path in named if not (ROOT / path.split(" ")[0]).exists())
    assert gone == []


def test_the_questions_of_a_newcomer_are_answered_by_file_names() -> None:
    text = MAP.read_text()
    for question, file_name in [
        ("where does paging happen?", "paging.py"),
        ("where are windows planned?", "windows.py"),
        ("where are no-shows rechecked?", "no_shows.py"),
        ("where are soft deletes applied?", "soft_deletes.py"),
        ("where is a metric defined?", "metrics_"),
    ]:
        row = next(line for line in text.splitlines() if question in line)
        assert file_name in row
        assert list(ROOT.rglob(f"{file_name}*")), file_name
