"""``bench/COMPARISON.md``: the side-by-side table, from every ``compare_<size>.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZE_ORDER = ("tiny", "small", "medium", "large")
COLUMNS = (
    ("full", "ours"),
    ("full", "baseline"),
    ("incremental", "ours"),
    ("incremental", "baseline"),
)
INVITEES_ROUTE = "GET /scheduled_events/{uuid}/invitees"
HEADER = """# Our pipeline vs dlt's `rest_api` source, side by side

Written by `./dev bench compare` (`bench/compare.py`) from `bench/results/compare_<size>.json`.
Each run: its own process against the simulator served on 127.0.0.1 with an added
latency and a rate limit (see each section). *full*: a backfill of the whole
organization; *incremental*: the next run after one simulated day.
N_min: every list page at 100 a page plus one invitee call per event (for the
incremental: the events the day touched); floor = N_min / rate limit;
efficiency = floor / wall (the wall includes starting Python and importing
dlt). The baseline reads fewer small lists (no routing-form submissions, no
users), so it can need a few requests less than N_min. *state agrees*: share
of the simulator's events / invitees whose loaded status, cancellation,
`rescheduled` and `no_show` match;
*captured*: share of the day's changes whose rows all match after the run.
*Gaps*: stretches of over 0.25 s with no request arriving at the simulator
(imports, checkpoint loads, the models), summed.
*peak RSS*: the side process's own high-water mark (`VmHWM`); runs recorded
before 2026-12-07, the baseline's among them, show `ru_maxrss`, which also
holds the harness's RSS at the fork (Linux carries it over `exec`).
Wall times were measured on a shared 2-core machine: the load average is
recorded with each run, and figures taken at a load above 2 are noisy.
`--sides ours` reruns only our side and keeps the baseline's runs (its code
unchanged) from the last results file; their recording time is then shown.
"""


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _percent(share: float, complete: bool) -> str:
    """A share as a percentage that never rounds a shortfall up to 100% (940/941: 99.9%)."""
    whole = f"{share:.0%}"
    if whole == "100%" and not complete:
        return f"{min(share, 0.999):.1%}"
    return whole


def _share(captured: dict[str, Any] | None, key: str) -> str:
    if not captured or key not in captured:
        return "-"
    entry = captured[key]
    percent = _percent(entry["share"], entry["captured"] == entry["changes"])
    return f"{percent} ({entry['captured']}/{entry['changes']})"


def _requests_of(run: dict[str, Any], fragment: str) -> int:
    return sum(n for route, n in run.get("requests_by_route", {}).items() if route == fragment)


def _agreement(run: dict[str, Any]) -> str:
    agreement = run.get("agreement")
    if not agreement:
        return "-"
    events, invitees = agreement["events"], agreement["invitees"]
    return f"{_percent(events, events == 1)} / {_percent(invitees, invitees == 1)}"


def _rows(run: dict[str, Any], *tables: str) -> str:
    rows = run.get("rows") or {}
    return "-" if not rows else _number(sum(rows.get(t, 0) for t in tables))


Row = tuple[str, Callable[[dict[str, Any]], str]]
ROWS: tuple[Row, ...] = (
    (
        "finished",
        lambda r: "not run" if not r else "yes" if r.get("finished") else r.get("note", "no"),
    ),
    ("wall s", lambda r: _number(r.get("wall_seconds"))),
    ("- in the process (after imports)", lambda r: _number(r.get("seconds_in_process"))),
    ("requests", lambda r: _number(r.get("requests"))),
    ("- event list pages", lambda r: _number(_requests_of(r, "GET /scheduled_events"))),
    ("- invitee calls", lambda r: _number(_requests_of(r, INVITEES_ROUTE))),
    ("429 responses", lambda r: _number(r.get("responses_429"))),
    (
        "requests/s from first to last",
        lambda r: _number((r.get("pacing") or {}).get("rate_per_second")),
    ),
    (
        "s with no request arriving (gaps > 0.25 s)",
        lambda r: _number((r.get("pacing") or {}).get("gap_seconds")),
    ),
    ("N_min", lambda r: _number(r.get("n_min"))),
    ("floor s", lambda r: _number(r.get("floor_seconds"))),
    ("efficiency", lambda r: _number(r.get("efficiency"), 3)),
    ("peak RSS MB", lambda r: _number(r.get("peak_rss_mb"))),
    ("CPU s", lambda r: _number(r.get("cpu_seconds"))),
    ("extract s", lambda r: _number((r.get("time_split") or {}).get("extract"))),
    ("normalize s", lambda r: _number((r.get("time_split") or {}).get("normalize"))),
    ("load s", lambda r: _number((r.get("time_split") or {}).get("load"))),
    ("models s", lambda r: _number((r.get("time_split") or {}).get("models"))),
    ("rows events", lambda r: _rows(r, "scheduled_events", "events")),
    ("rows invitees", lambda r: _rows(r, "invitees")),
    ("state agrees (events / invitees)", _agreement),
    ("day's changes captured", lambda r: _share(r.get("captured"), "all")),
    ("- no-shows marked < 1 d late", lambda r: _share(r.get("captured"), "mark_under_1d")),
    ("- no-shows marked 1-7 d late", lambda r: _share(r.get("captured"), "mark_1d_to_7d")),
    ("- no-shows marked 7-28 d late", lambda r: _share(r.get("captured"), "mark_7d_to_28d")),
    ("- no-shows unmarked", lambda r: _share(r.get("captured"), "unmark")),
    ("- cancels/reschedules > 30 d ahead", lambda r: _share(r.get("captured"), "ahead_far")),
    ("- ... > 365 d ahead", lambda r: _share(r.get("captured"), "ahead_beyond_horizon")),
    (
        "load avg before / after",
        lambda r: f"{_number(r.get('load_avg_before'), 2)} / {_number(r.get('load_avg_after'), 2)}",
    ),
)


def section(result: dict[str, Any]) -> str:
    """The markdown section of one organization size."""
    org, setup, runs = result["organization"], result["setup"], result["runs"]
    lines = [
        f"## {org['size']} ({org['events']:,} events, {org['invitees']:,} invitees, "
        f"seed {org['seed']})",
        "",
        f"Recorded {result['recorded_at']}; latency {setup['latency_ms']:g} ms ± "
        f"{setup['jitter_ms']:g} ms, {setup['requests_per_minute']:,} requests/min; "
        f"the day (seed {setup['day_seed']}): {_day(result['day'])}.",
        "",
        "| | full, ours | full, rest_api | incremental, ours | incremental, rest_api |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, cell in ROWS:
        cells = [cell(runs[kind].get(side) or {}) for kind, side in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _day(day: dict[str, Any]) -> str:
    late = ", ".join(f"{k} {v}" for k, v in sorted(day.get("no_shows_by_lateness", {}).items()))
    return (
        f"{day['bookings']} bookings, "
        f"{day['invitee_cancels'] + day['host_cancels']} cancellations, "
        f"{day['reschedules']} reschedules, {day['no_shows_marked']} no-shows marked ({late}), "
        f"{day['no_shows_unmarked']} unmarked, {day['far_ahead_changes']} changes > 30 d ahead "
        f"({day['beyond_horizon_changes']} > 365 d), {day['touched_events']} events touched"
    )


def write_table(results_dir: Path, table: Path) -> None:
    """Write ``table`` from every ``compare_<size>.json`` in ``results_dir``."""
    results = [
        json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("compare_*.json")
    ]
    results.sort(key=lambda r: SIZE_ORDER.index(r["organization"]["size"]))
    table.write_text(HEADER + "".join("\n" + section(r) for r in results), encoding="utf-8")
