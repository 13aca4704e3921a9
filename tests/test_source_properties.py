"""Property tests: whatever shape Calendly's payloads take, every record is loaded or quarantined.

Hypothesis draws variations of the API's records (nulls where the OpenAPI spec
allows them, optional objects left out, unknown fields and enum values,
unicode and very long strings) and of its pages (empty pages, records
repeated on the next page). A transport between the client and the simulator
rewrites the answers; the real source loads them into DuckDB. The property:
every record served is either in the raw tables with its values (compared
field by field, child tables included, as dlt flattens them) or in
``quarantine`` - never dropped silently - and a record served twice is one row.
The variations drawn are all ones the spec or real answers allow, so none of
them may end in quarantine either.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from source_harness import SourceHarness, diff_trees, expected_tree, loaded_tree, query

from calendly_elt.runner import run_extraction
from calendly_elt.simulator import generate_organization

Op = tuple[Any, ...]
EXAMPLES = itertools.count()
Record = dict[str, Any]

# nullable in the spec (calendly-openapi-2023.yaml), or null in real answers (location)
EVENT_NULLABLE = ("name", "location", "calendar_event", "meeting_notes_plain", "meeting_notes_html")
EVENT_OPTIONAL = ("location", "calendar_event", "event_guests", "meeting_notes_plain")
INVITEE_NULLABLE = (
    "first_name", "last_name", "timezone", "text_reminder_number", "routing_form_submission",
    "payment", "reconfirmation", "tracking.utm_source", "tracking.utm_campaign",
    "tracking.salesforce_uuid",
)  # fmt: skip
INVITEE_OPTIONAL = ("tracking", "questions_and_answers", "payment", "reconfirmation",
                    "scheduling_method", "invitee_scheduled_by")  # fmt: skip
EVENT_TEXT = ("name", "meeting_notes_plain", "location.location", "location.type")
INVITEE_TEXT = ("name", "first_name", "tracking.utm_source", "tracking.utm_content", "timezone")

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
LONG_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=3)
ANY_TEXT = st.one_of(TEXT, LONG_TEXT.map(lambda text: text * 40_000))  # up to 120k chars
UNKNOWN_ENUM = st.sampled_from(["zoom", "teams_meeting", "tentative", "\u23f3 pending", "x" * 300])


def _extras() -> st.SearchStrategy[Op]:
    """Unknown fields: each name keeps one type (dlt would split a mixed one into variants)."""
    return st.one_of(
        st.tuples(st.just("extra"), st.just("x_note"), TEXT.map(lambda text: "x" + text)),
        st.tuples(st.just("extra"), st.just("x_count"), st.integers(-(2**31), 2**31)),
        st.tuples(st.just("extra"), st.just("x_flag"), st.booleans()),
        st.tuples(
            st.just("extra"), st.just("x_detail"), TEXT.map(lambda text: {"label": "x" + text})
        ),
    )


def _ops(nullable: tuple[str, ...], optional: tuple[str, ...], text: tuple[str, ...],
         enums: tuple[str, ...]) -> st.SearchStrategy[list[Op]]:  # fmt: skip
    op = st.one_of(
        st.tuples(st.just("null"), st.sampled_from(nullable)),
        st.tuples(st.just("drop"), st.sampled_from(optional)),
        st.tuples(st.just("set"), st.sampled_from(text), ANY_TEXT),
        st.tuples(st.just("set"), st.sampled_from(enums), UNKNOWN_ENUM),
        _extras(),
    )
    return st.lists(op, max_size=4)


EVENT_OPS = _ops(EVENT_NULLABLE, EVENT_OPTIONAL, EVENT_TEXT, ("location.type", "status"))
INVITEE_OPS = _ops(INVITEE_NULLABLE, INVITEE_OPTIONAL, INVITEE_TEXT,
                   ("status", "scheduling_method", "tracking.utm_medium"))  # fmt: skip
PAGING = st.fixed_dictionaries(
    {"empty_first": st.booleans(), "split": st.booleans(), "repeat": st.booleans()}
)


def _apply(record: Record, ops: list[Op]) -> Record:
    changed = copy.deepcopy(record)
    for op in ops:
        kind, path = op[0], op[1]
        *parents, leaf = path.split(".")
        target = changed
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if kind == "null":
            target[leaf] = None
        elif kind == "drop":
            target.pop(leaf, None)
        else:
            target[leaf] = op[2]
    return changed


def _without_marker(url: httpx.URL, marker: str) -> tuple[httpx.URL, bool]:
    parts = urlsplit(str(url))
    query_items = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query_items if k != marker]
    clean = urlunsplit(parts._replace(query=urlencode(kept)))
    return httpx.URL(clean), len(kept) != len(query_items)


def _with_marker(url: str, marker: str) -> str:
    return url + ("&" if "?" in url else "?") + f"{marker}=1"


class VaryingTransport(httpx.BaseTransport):
    """The simulator's answers, each record rewritten by its variation, pages reshaped.

    ``served`` keeps the last version of every record sent, by table and uri.
    """

    def __init__(self, inner: httpx.BaseTransport, vary: Callable[[str, Record], Record],
                 paging: dict[str, bool]) -> None:  # fmt: skip
        self.inner, self.vary, self.paging = inner, vary, paging
        self.served: dict[str, dict[str, Record]] = {"scheduled_events": {}, "invitees": {}}
        self.empty_pages = self.repeats = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        table = _table_of(request.url.path)
        if table is None:
            return self.inner.handle_request(request)
        url, empty_done = _without_marker(request.url, "x_empty")
        url, second_half = _without_marker(url, "x_half")
        if self.paging["empty_first"] and not empty_done and not second_half:
            self.empty_pages += 1
            return _page(request, [], _with_marker(str(request.url), "x_empty"))
        response = self.inner.handle_request(httpx.Request(request.method, url,
                                                           headers=request.headers))  # fmt: skip
        body = json.loads(response.read())
        if response.status_code != 200 or "collection" not in body:
            return httpx.Response(response.status_code, json=body, request=request)
        records = [self.vary(table, record) for record in body["collection"]]
        for record in records:
            self.served[table][record["uri"]] = record
        next_page = body["pagination"].get("next_page")
        if not self.paging["split"] or len(records) < 2:
            return _page(request, records, next_page)
        middle = len(records) // 2
        if not second_half:
            return _page(request, records[:middle], _with_marker(str(request.url), "x_half"))
        repeated = [records[middle - 1]] if self.paging["repeat"] else []
        self.repeats += len(repeated)
        return _page(request, repeated + records[middle:], next_page)


def _table_of(path: str) -> str | None:
    if path == "/scheduled_events":
        return "scheduled_events"
    if path.startswith("/scheduled_events/") and path.endswith("/invitees"):
        return "invitees"
    return None


def _page(request: httpx.Request, records: list[Record], next_page: str | None) -> httpx.Response:
    pagination = {"count": len(records), "next_page": next_page, "previous_page": None,
                  "next_page_token": None, "previous_page_token": None}  # fmt: skip
    return httpx.Response(200, json={"collection": records, "pagination": pagination},
                          request=request)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def _load(folder: Path, event_ops: list[list[Op]], invitee_ops: list[list[Op]],
          paging: dict[str, bool]) -> tuple[Any, VaryingTransport]:  # fmt: skip
    store = generate_organization(seed=3, size="tiny")
    harness = SourceHarness(store, folder)
    events = sorted(store.events.values(), key=lambda e: e["uri"])
    invitees = sorted(store.invitees.values(), key=lambda i: i["uri"])
    variation = {e["uri"]: event_ops[n % len(event_ops)] for n, e in enumerate(events)}
    variation.update({i["uri"]: invitee_ops[n % len(invitee_ops)] for n, i in enumerate(invitees)})

    def vary(table: str, record: Record) -> Record:
        return _apply(record, variation.get(record["uri"], []))

    transport = VaryingTransport(harness.sim.transport(), vary, paging)
    pipeline = harness.pipeline(f"example_{next(EXAMPLES)}")  # a fresh warehouse each time
    run_extraction(pipeline, harness.settings(), now=store.clock.now, transport=transport,
                   take_lock=False)  # fmt: skip
    return pipeline, transport


def _quarantined(pipeline: Any) -> set[tuple[str, str]]:
    if not _has_table(pipeline, "quarantine"):
        return set()
    rows = query(pipeline, "select resource, record_key from calendly.quarantine")
    return {(resource, key) for resource, key in rows}


def _assert_loaded_or_quarantined(pipeline: Any, transport: VaryingTransport) -> None:
    quarantined = _quarantined(pipeline)
    for table, served in transport.served.items():
        assert served, f"nothing served for {table}: the property would prove nothing"
        loaded = loaded_tree(pipeline, table)  # fails on a uri loaded twice
        kept = {uri: r for uri, r in served.items() if (table, uri) not in quarantined}
        expected = expected_tree(kept.values(), table)
        naming = pipeline.default_schema.naming
        expected = {
            uri: {
                "row": tree["row"],
                "children": {
                    naming.shorten_identifier(t, t, naming.max_length): trees
                    for t, trees in tree["children"].items()
                },
            }
            for uri, tree in expected.items()
        }
        problems = diff_trees(expected, loaded)
        assert not problems, f"{table}: {problems}"


def _has_table(pipeline: Any, table: str) -> bool:
    return table in pipeline.default_schema.tables and bool(
        query(pipeline, "select count(*) from information_schema.tables "
                        f"where table_schema = 'calendly' and table_name = '{table}'")[0][0]
    )  # fmt: skip


SETTINGS = settings(
    max_examples=int(os.environ.get("CALENDLY_ELT_HYPOTHESIS_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(
    event_ops=st.lists(EVENT_OPS, min_size=1, max_size=6),
    invitee_ops=st.lists(INVITEE_OPS, min_size=1, max_size=6),
    paging=PAGING,
)
def test_every_varied_record_is_loaded_faithfully_or_quarantined(
    folder: Path, event_ops: list[list[Op]], invitee_ops: list[list[Op]], paging: dict[str, bool]
) -> None:
    pipeline, transport = _load(folder, event_ops, invitee_ops, paging)
    _assert_loaded_or_quarantined(pipeline, transport)
    # every variation drawn here is one the spec (or real answers) allows: none may be
    # quarantined, or a pipeline that quarantined valid records would pass
    assert _quarantined(pipeline) == set()


def test_empty_pages_and_records_repeated_across_pages_end_as_one_row_each(folder: Path) -> None:
    paging = {"empty_first": True, "split": True, "repeat": True}
    pipeline, transport = _load(folder, [[]], [[]], paging)
    assert transport.empty_pages > 0 and transport.repeats > 0
    _assert_loaded_or_quarantined(pipeline, transport)
