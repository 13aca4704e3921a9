"""The metrics report and the ``models``/``report`` commands."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from model_fixtures import duckdb_pipeline, fetch_rows, load_store

from calendly_elt.cli.main import main
from calendly_elt.models import report as report_module
from calendly_elt.models.catalog import load_catalog
from calendly_elt.models.errors import MartsMissingError, WarehouseUnavailableError
from calendly_elt.models.report import render_report
from calendly_elt.models.runner import build_models
from calendly_elt.runner import make_pipeline
from calendly_elt.simulator import SimConfig, Simulator
from calendly_elt.simulator.generator import DEFAULT_NOW, generate_organization
from calendly_elt.simulator.ground_truth import fct_bookings
from calendly_elt.simulator.mutations import cancel_invitee
from calendly_elt.simulator.store import uuid_of

MODELS = len(load_catalog().models)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    pipeline = duckdb_pipeline(tmp_path_factory.mktemp("report"))
    load_store(pipeline, generate_organization(seed=3, size="tiny"))
    build_models(pipeline, as_of=DEFAULT_NOW)
    return pipeline


def _expected_by_source(bookings: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    by_source: dict[str, Counter[str]] = {}
    for booking in bookings:
        source = booking["utm_source"] or "(none)"
        by_source.setdefault(source, Counter())[booking["outcome"]] += 1
    return by_source


def _month_of(booking: dict[str, Any]) -> date:
    start = booking["start_at"]
    return date(start.year, start.month, 1)


def test_json_report_matches_the_bookings(warehouse: dlt.Pipeline) -> None:
    bookings = fetch_rows(warehouse, "fct_bookings")
    report = json.loads(render_report(warehouse, fmt="json"))
    expected = _expected_by_source(bookings)
    assert {line["utm_source"] for line in report["utm_sources"]} == set(expected)
    for line in report["utm_sources"]:
        outcomes = expected[line["utm_source"]]
        assert line["bookings"] == sum(outcomes.values())
        assert line["completed"] == outcomes["completed"]
        assert line["no_shows"] == outcomes["no_show"]
        held = outcomes["completed"] + outcomes["no_show"]
        assert line["show_rate"] == (pytest.approx(outcomes["completed"] / held) if held else None)
        assert line["cancellation_rate"] == pytest.approx(outcomes["canceled"] / line["bookings"])
    counts = [line["bookings"] for line in report["utm_sources"]]
    assert counts == sorted(counts, reverse=True)
    months = Counter(_month_of(booking) for booking in bookings)
    assert {date.fromisoformat(line["month"]): line["bookings"] for line in report["months"]} == (
        dict(months)
    )


def test_table_report_is_readable(warehouse: dlt.Pipeline) -> None:
    report = json.loads(render_report(warehouse, fmt="json"))
    table = render_report(warehouse)
    header, lines = _split_header(table)
    assert header[0] == "as_of: 2026-01-15 12:00:00 UTC (outcomes judged at this instant)"
    assert lines[0] == "Top UTM sources by bookings (first touch)"
    assert lines[1].split() == ["utm_source", "bookings", "show", "rate", "cancel", "rate"]
    top = report["utm_sources"][0]
    first_row = lines[3].split()
    assert first_row[:2] == [top["utm_source"], str(top["bookings"])]
    assert first_row[3] == f"{top['cancellation_rate'] * 100:.1f}%"
    assert "No-shows and cancellations by month of the meeting" in lines
    first_month = report["months"][0]
    assert any(line.startswith(first_month["month"][:7]) for line in lines)


def _split_header(table: str) -> tuple[list[str], list[str]]:
    """The header lines (as_of, extent, last run) and the rest, from the sources section on."""
    lines = table.splitlines()
    start = lines.index("Top UTM sources by bookings (first touch)")
    return lines[:start], lines[start:]


def test_table_report_says_how_many_sources_it_leaves_out(
    warehouse: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = json.loads(render_report(warehouse, fmt="json"))["utm_sources"]
    assert len(sources) > 3
    assert "more (--format json" not in render_report(warehouse)
    monkeypatch.setattr(report_module, "TOP_SOURCES", 3)
    _, lines = _split_header(render_report(warehouse))
    note = f"... and {len(sources) - 3} more (--format json or csv lists every source)"
    shown = lines[3 : lines.index(note)]
    assert [line.split()[0] for line in shown] == [line["utm_source"] for line in sources[:3]]


def test_csv_report_has_the_same_figures_as_json(warehouse: dlt.Pipeline) -> None:
    report = json.loads(render_report(warehouse, fmt="json"))
    rows = list(csv.DictReader(io.StringIO(render_report(warehouse, fmt="csv"))))
    sources = [row for row in rows if row["section"] == "utm_source"]
    months = [row for row in rows if row["section"] == "month"]
    assert [row["utm_source"] for row in sources] == [
        line["utm_source"] for line in report["utm_sources"]
    ]
    assert [int(row["held"]) for row in months] == [line["held"] for line in report["months"]]
    for row, line in zip(months, report["months"], strict=True):
        expected = "" if line["no_show_rate"] is None else line["no_show_rate"]
        assert row["no_show_rate"] == str(expected)


def test_report_without_marts_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(MartsMissingError, match="calendly-elt run"):
        render_report(duckdb_pipeline(tmp_path))
    with pytest.raises(ValueError, match="format"):
        render_report(duckdb_pipeline(tmp_path), fmt="xml")


@pytest.fixture
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_home"))
    return tmp_path


def test_cli_models_and_report(isolated_dlt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = duckdb_pipeline(isolated_dlt)
    load_store(pipeline, generate_organization(seed=3, size="tiny"))
    database = str(isolated_dlt / "warehouse.duckdb")
    code = main(["models", "--duckdb", database, "--as-of", "2026-01-15T12:00:00Z", "--test"])
    out = capsys.readouterr().out
    assert code == 0, out
    built = f"built {MODELS} models in calendly_analytics as of 2026-01-15T12:00:00+00:00"
    assert built in out
    assert "all SQL tests passed" in out
    assert main(["report", "--duckdb", database, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    bookings = fetch_rows(pipeline, "fct_bookings")
    assert sum(line["bookings"] for line in report["utm_sources"]) == len(bookings)


def _stated_context(fmt: str, out: str) -> dict[str, str]:
    """The header (as_of, extent, last successful run) as one format states it."""
    if fmt == "json":
        return {key: str(value) for key, value in json.loads(out)["context"].items()}
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(out))
        return {row["name"]: row["value"] for row in rows if row["section"] == "context"}
    # table, and any format added later (html): the as_of instant as text, and the extent
    assert "as_of" in out and "2026-01-15" in out, fmt
    assert "meetings loaded" in out or "first_meeting_at" in out, fmt
    return {"as_of": "2026-01-15T12:00:00+00:00"}


def test_every_report_format_states_as_of_and_the_data_extent(
    isolated_dlt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = duckdb_pipeline(isolated_dlt)
    load_store(pipeline, generate_organization(seed=3, size="tiny"))
    database = str(isolated_dlt / "warehouse.duckdb")
    assert main(["models", "--duckdb", database, "--as-of", "2026-01-15T12:00:00Z"]) == 0
    capsys.readouterr()
    starts = [row["start_at"] for row in fetch_rows(pipeline, "fct_meetings")]
    for fmt in report_module.FORMATS:  # every format the CLI accepts
        assert main(["report", "--duckdb", database, "--format", fmt]) == 0, fmt
        context = _stated_context(fmt, capsys.readouterr().out)
        assert context["as_of"] == "2026-01-15T12:00:00+00:00", fmt
        if fmt in ("json", "csv"):
            first = datetime.fromisoformat(context["first_meeting_at"])
            assert first == min(starts).replace(tzinfo=first.tzinfo), fmt
            assert "last_successful_run_at" in context
    page = isolated_dlt / "report.html"
    assert main(["report", "--duckdb", database, "--html", str(page)]) == 0
    header = page.read_text(encoding="utf-8").split("</header>")[0]
    assert "<dt>as_of</dt><dd>2026-01-15 12:00:00 UTC" in header
    assert "<dt>meetings loaded</dt>" in header and "<dt>last successful run</dt>" in header


def test_the_report_covers_campaigns(warehouse: dlt.Pipeline) -> None:
    bookings = fetch_rows(warehouse, "fct_bookings")
    report = json.loads(render_report(warehouse, fmt="json"))
    expected = Counter(booking["utm_campaign"] or "(none)" for booking in bookings)
    assert {line["utm_campaign"]: line["bookings"] for line in report["utm_campaigns"]} == dict(
        expected
    )
    assert "Top UTM campaigns by bookings (first touch)" in render_report(warehouse)


def test_cli_errors_are_one_line_and_non_zero(
    isolated_dlt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = str(isolated_dlt / "missing.duckdb")
    assert main(["report", "--duckdb", database]) == 1
    assert "run `calendly-elt run` first" in capsys.readouterr().err
    assert main(["models", "--duckdb", database, "--as-of", "yesterday"]) == 2
    assert "--as-of 'yesterday' is not an ISO 8601 timestamp" in capsys.readouterr().err
    assert main(["models", "--duckdb", database, "--as-of", "2026-01-01T00:00:00"]) == 2
    assert "needs a timezone" in capsys.readouterr().err
    assert main(["report", "--duckdb", database, "--format", "xml"]) == 2
    assert "--format must be one of table, json, csv, not 'xml'" in capsys.readouterr().err
    assert main(["models", "--duckdb", database]) == 1
    assert (
        capsys.readouterr().err
        == f"error: no DuckDB warehouse at {database}: run `calendly-elt run` first\n"
    )
    assert not Path(database).exists()  # the failed command did not leave an empty warehouse
    empty = str(isolated_dlt / "empty.duckdb")
    duckdb.connect(empty).close()  # a warehouse without the raw tables
    assert main(["models", "--duckdb", empty]) == 1
    assert "raw table(s) event_types, invitees" in capsys.readouterr().err


def test_unreachable_warehouse_is_one_line_without_the_password(
    isolated_dlt: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(isolated_dlt)
    monkeypatch.setenv(
        "DESTINATION__POSTGRES__CREDENTIALS", "postgresql://u:s3cretpw@127.0.0.1:1/db"
    )
    for command in (["models"], ["models", "--test"], ["report"]):
        assert main([*command, "--destination", "postgres"]) == 1, command
        err = capsys.readouterr().err
        assert err.startswith("error: cannot connect to the postgres warehouse: OperationalError:")
        assert err.count("\n") == 1 and "s3cretpw" not in err, err
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS")
    with pytest.raises(WarehouseUnavailableError, match=r"Missing 1 field.*credentials"):
        build_models(make_pipeline(destination="postgres"), as_of=DEFAULT_NOW)


@pytest.fixture
def served_tiny(isolated_dlt: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A tiny organization anchored at the wall clock, served on 127.0.0.1."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    simulator = Simulator(
        generate_organization(seed=3, size="tiny", now=now), SimConfig(requests_per_minute=10**6)
    )
    monkeypatch.chdir(isolated_dlt)
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    monkeypatch.setenv("SOURCES__CALENDLY__REQUESTS_PER_MINUTE", str(10**6))
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        yield simulator


def _outcomes(pipeline: dlt.Pipeline, *, unless_starting_after: datetime) -> dict[str, str]:
    """Outcome by final invitee, leaving out meetings that started during the test."""
    return {
        row["invitee_uri"]: row["outcome"]
        for row in fetch_rows(pipeline, "fct_bookings")
        if not unless_starting_after < row["start_at"] <= datetime.now(UTC)
    }


def test_cli_run_rebuilds_the_marts_after_each_load(
    served_tiny: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    store, started = served_tiny.store, datetime.now(UTC)
    assert main(["run", "--duckdb", "org.duckdb"]) == 0
    assert f"models built: {MODELS}" in capsys.readouterr().out
    pipeline = make_pipeline(duckdb_path="org.duckdb")
    first = _outcomes(pipeline, unless_starting_after=started)
    loaded = {row["invitee_uri"] for row in fetch_rows(pipeline, "fct_bookings")}
    assert loaded == {row["invitee_uri"] for row in fct_bookings(store, DEFAULT_NOW)}
    target = next(
        invitee
        for invitee in store.invitees.values()
        if first.get(invitee["uri"]) == "upcoming" and not invitee["rescheduled"]
    )
    cancel_invitee(store, uuid_of(target["uri"]), reason="changed plans")

    assert main(["run", "--duckdb", "org.duckdb"]) == 0
    assert f"models built: {MODELS}" in capsys.readouterr().out
    second = _outcomes(pipeline, unless_starting_after=started)
    assert second[target["uri"]] == "canceled"
    assert {uri: outcome for uri, outcome in second.items() if uri != target["uri"]} == {
        uri: outcome for uri, outcome in first.items() if uri != target["uri"]
    }


def test_cli_models_test_reports_failing_sql_tests_and_exits_1(
    isolated_dlt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = duckdb_pipeline(isolated_dlt)
    load_store(pipeline, generate_organization(seed=3, size="tiny"))
    with pipeline.sql_client() as client:  # an enum value the SQL tests do not accept
        client.execute_sql(
            f"update {client.make_qualified_table_name('invitees')} "
            "set cancellation__canceler_type = 'robot' where uri = ("
            f"select min(uri) from {client.make_qualified_table_name('invitees')} "
            "where status = 'canceled' and not rescheduled)"
        )
    database = str(isolated_dlt / "warehouse.duckdb")
    capsys.readouterr()  # dlt's load warnings
    assert main(["models", "--duckdb", database, "--as-of", "2026-01-15T12:00:00Z", "--test"]) == 1
    captured = capsys.readouterr()
    fails = [line for line in captured.out.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 3, captured.out  # the enum test and two reconciliations
    assert fails[0].startswith(
        "FAIL accepted_values_fct_bookings_canceler_type__host__invitee: 1 failing row(s)"
    )
    assert "'robot'" in fails[0] and "all SQL tests passed" not in captured.out
    # host + invitee cancellations no longer add up to the canceled bookings
    assert fails[1].startswith("FAIL reconciliation__breakdowns_vs_bookings: 1 failing row(s)")
    assert fails[2].startswith("FAIL reconciliation__monthly_metrics_vs_bookings: 1 failing row(s)")
    assert captured.err == "error: 3 SQL test(s) failed\n"
