"""The README stays true: its analysts' section, its example queries and every link.

- the tables and columns of "For analysts" are what ``python -m
  calendly_elt.models.docs`` generates from ``sql/marts/schema.yml``;
- every ```` ```sql ```` block of that section runs on the demo's warehouse
  and returns rows;
- every relative link of README.md, DEVELOPING.md, DECISIONLOG.md and
  docs/*.md names a file of the repository, and its ``#anchor`` a heading of
  that file (GitHub's heading ids).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from calendly_elt.models import docs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = sorted(
    [README, ROOT / "DEVELOPING.md", ROOT / "DECISIONLOG.md", *(ROOT / "docs").glob("*.md")]
)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _analysts_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## For analysts\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _prose(markdown: str) -> str:
    """``markdown`` without fenced code blocks and inline code (no links in there)."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def _slug(heading: str) -> str:
    """GitHub's id of a heading: markup gone, lowercase, punctuation dropped, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    prose = _prose(path.read_text(encoding="utf-8"))
    return LINK.findall(prose) + REFERENCE.findall(prose)


def test_the_analysts_tables_are_generated_from_the_schema_docs() -> None:
    current = README.read_text(encoding="utf-8")
    assert docs.with_marts(current) == current, (
        "README's marts list is stale: run python -m calendly_elt.models.docs"
    )
    assert docs.main(["--check"]) == 0


def test_the_generated_list_names_every_mart_and_column() -> None:
    section = _analysts_section()
    for name, properties in docs.model_properties(docs.SQL_ROOT / "marts").items():
        assert f"**`calendly_analytics.{name}`**" in section
        for column in properties.columns:
            assert f"| `{column}` |" in section, (name, column)


def test_a_stale_readme_fails_the_check(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{docs.BEGIN}\nold list\n{docs.END}\n", encoding="utf-8")
    assert docs.main(["--check", "--readme", str(stale)]) == 1
    assert docs.main(["--readme", str(stale)]) == 0
    assert docs.main(["--check", "--readme", str(stale)]) == 0
    assert "old list" not in stale.read_text(encoding="utf-8")


def _example_queries() -> list[str]:
    return re.findall(r"^```sql\n(.*?)^```", _analysts_section(), re.MULTILINE | re.DOTALL)


def test_the_section_has_a_query_for_each_metric_family() -> None:
    queries = "\n".join(_example_queries())
    for mart in (
        "metrics_utm_attribution",
        "metrics_no_shows",
        "metrics_cancellations",
        "metrics_weekly",
        "metrics_hosts",
        "metrics_lead_time",
        "metrics_popular_times",
        "metrics_routing_funnel",
    ):
        assert f"calendly_analytics.{mart}" in queries, mart


@pytest.mark.parametrize("number", range(len(_example_queries())))
def test_example_query_runs_on_the_demo_data(number: int, demo_duckdb: Path) -> None:
    query = _example_queries()[number]
    with duckdb.connect(str(demo_duckdb), read_only=True) as connection:
        rows = connection.sql(query).fetchall()
    assert rows, query


def _documents_and_links() -> list[tuple[Path, str]]:
    return [(path, link) for path in DOCUMENTS for link in _links(path)]


def test_links_are_found() -> None:
    linked = {link for path, link in _documents_and_links() if path == README}
    assert {"docs/metrics.md", "DEVELOPING.md", "#for-analysts"} <= linked


@pytest.mark.parametrize(
    ("path", "link"),
    [(path, link) for path, link in _documents_and_links() if not re.match(r"\w+:", link)],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_relative_link_resolves_inside_the_repository(path: Path, link: str) -> None:
    target, _, anchor = link.partition("#")
    resolved = (path.parent / target).resolve() if target else path
    assert resolved.is_relative_to(ROOT), f"{path.name}: {link} leaves the repository"
    assert resolved.exists(), f"{path.name}: {link} names no file"
    if anchor and resolved.suffix == ".md":
        assert anchor in _anchors(resolved), f"{path.name}: {link}: no such heading"
