"""The README's table of marts and columns, generated from ``sql/marts/schema.yml``.

The README's "For analysts" section lists every mart and column between two
markers; this module writes that text from the schema docs (model and column
descriptions), so the README cannot drift from the models:

    python -m calendly_elt.models.docs          # rewrite README.md between the markers
    python -m calendly_elt.models.docs --check  # exit 1 if README.md is stale

The test suite runs the check (``tests/test_readme.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calendly_elt.models.project import SQL_ROOT, model_properties

README = SQL_ROOT.parent / "README.md"
BEGIN = "<!-- analysts:begin (generated from sql/marts/schema.yml: python -m calendly_elt.models.docs) -->"  # noqa: E501
END = "<!-- analysts:end -->"
ANALYTICS_SCHEMA = "calendly_analytics"


def marts_markdown(sql_root: Path = SQL_ROOT) -> str:
    """Every mart of ``sql_root/marts``: its description, then a table of its columns."""
    parts = []
    for name, properties in model_properties(sql_root / "marts").items():
        rows = "\n".join(
            f"| `{column}` | {_cell(description)} |"
            for column, description in properties.columns.items()
        )
        parts.append(
            f"**`{ANALYTICS_SCHEMA}.{name}`**: {_cell(properties.description)}\n\n"
            f"| column | description |\n|---|---|\n{rows}\n"
        )
    return "\n".join(parts)


def _cell(text: str) -> str:
    """``text`` on one line, safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def with_marts(readme: str, sql_root: Path = SQL_ROOT) -> str:
    """``readme`` with the text between the markers replaced by :func:`marts_markdown`.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN!r} ... {END!r} markers in that order")
    return f"{readme[: start + len(BEGIN)]}\n\n{marts_markdown(sql_root)}\n{readme[end:]}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check``, verify) the README's generated section."""
    parser = argparse.ArgumentParser(prog="python -m calendly_elt.models.docs")
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    parser.add_argument("--readme", type=Path, default=README)
    options = parser.parse_args(argv)
    current = options.readme.read_text(encoding="utf-8")
    fresh = with_marts(current)
    if options.check:
        if fresh != current:
            print(
                f"{options.readme} is stale: run python -m calendly_elt.models.docs",
                file=sys.stderr,
            )
            return 1
        return 0
    options.readme.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
