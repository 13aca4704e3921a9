"""CalendlyClient against hand-built fake APIs (httpx.MockTransport).

Covers paging, retries (429 bursts, 5xx, dropped connections), bounded
concurrency, the 401 path and the error family. The simulator-backed
versions live in ``test_client_simulator.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fakes import FakeClock

from calendly_elt.calendly.helpers.auth import PersonalAccessTokenAuth
from calendly_elt.calendly.helpers.client import CalendlyClient
from calendly_elt.calendly.helpers.errors import (
    ADVICE_NOT_FOUND,
    ADVICE_ORGANIZATION_SCOPE,
    ADVICE_PAGE_TOKEN_EXPIRED,
    ADVICE_UNAUTHENTICATED,
    CalendlyApiError,
    CalendlyAuthError,
    CalendlyBadRequestError,
    CalendlyForbiddenError,
    CalendlyNotFoundError,
    CalendlyPageTokenExpiredError,
    CalendlyRateLimitError,
    CalendlyServerError,
)

BASE = "https://api.calendly.test"
TOKEN = "pat-SECRET-abc123"
ROWS = [{"uri": f"{BASE}/scheduled_events/E{i:03d}", "n": i} for i in range(237)]


class FakeCalendly:
    """A paged ``/scheduled_events`` listing with scripted faults per request number."""

    def __init__(self, rows: list[dict[str, Any]], faults: dict[int, str] | None = None) -> None:
        self.rows = rows
        self.faults = faults or {}
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            number = len(self.requests)
            self.requests.append(request)
        fault = self.faults.get(number)
        if fault == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if fault == "connect":
            raise httpx.ConnectError("connection refused")
        if fault == "429":
            return httpx.Response(
                429,
                json={"title": "Too Many Requests", "message": "slow down"},
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"},
            )
        if fault == "503":
            return httpx.Response(503, json={"title": "Service Unavailable", "message": "x"})
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return self.page(request)

    def page(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        count = int(query.get("count", ["20"])[0])
        start = int(query.get("page_token", ["0"])[0])
        chunk = self.rows[start : start + count]
        following = start + count
        next_page = None
        if following < len(self.rows):
            keep = {k: v[0] for k, v in query.items() if k != "page_token"}
            params = httpx.QueryParams({**keep, "page_token": str(following)})
            next_page = f"{BASE}/scheduled_events?{params}"
        return httpx.Response(
            200,
            json={"collection": chunk, "pagination": {"count": len(chunk), "next_page": next_page}},
            headers={"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "400"},
        )


def make_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any):
    clock = FakeClock(1000.0)
    options: dict[str, Any] = {"sleep": clock.sleep, "clock": clock, **kwargs}
    client = CalendlyClient(
        BASE, PersonalAccessTokenAuth(TOKEN), transport=httpx.MockTransport(handler), **options
    )
    return client, clock


def all_rows(client: CalendlyClient, **params: Any) -> list[dict[str, Any]]:
    return [row for page in client.paginate("/scheduled_events", params) for row in page]


# --- get and paging -------------------------------------------------------------------


def test_get_sends_bearer_token_to_the_base_url_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resource": {"uri": f"{BASE}/users/U1"}})

    client, _ = make_client(handler)
    body = client.get("users/me")
    assert body == {"resource": {"uri": f"{BASE}/users/U1"}}
    assert str(seen[0].url) == f"{BASE}/users/me"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert client.request_count == 1


def test_paginate_follows_next_page_to_the_end_each_row_once() -> None:
    api = FakeCalendly(ROWS)
    client, _ = make_client(api)
    pages = list(client.paginate("/scheduled_events", {"organization": "O1", "status": "active"}))
    assert [len(page) for page in pages] == [100, 100, 37]
    rows = [row["n"] for page in pages for row in page]
    assert rows == list(range(237))
    first, *later = api.requests
    assert parse_qs(first.url.query.decode()) == {
        "count": ["100"],
        "organization": ["O1"],
        "status": ["active"],
    }
    # later pages come from next_page only, which carries every parameter
    assert all(parse_qs(r.url.query.decode())["status"] == ["active"] for r in later)
    assert client.request_count == 3


def test_paginate_honours_an_explicit_count_and_an_empty_listing() -> None:
    client, _ = make_client(FakeCalendly(ROWS))
    assert [len(p) for p in client.paginate("/scheduled_events", {"count": 50})] == [
        50,
        50,
        50,
        50,
        37,
    ]
    empty, _ = make_client(FakeCalendly([]))
    assert list(empty.paginate("/scheduled_events")) == [[]]


def test_a_next_page_on_another_host_is_refused_without_sending_the_token() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200, json={"collection": [], "pagination": {"next_page": "https://evil.test/x"}}
        )

    client, _ = make_client(handler)
    with pytest.raises(CalendlyApiError, match="other than base_url"):
        list(client.paginate("/scheduled_events"))
    assert [r.url.host for r in sent] == ["api.calendly.test"]


# --- retries --------------------------------------------------------------------------


def test_retries_under_429_bursts_5xx_and_dropped_connections_give_the_clean_result() -> None:
    clean_client, _ = make_client(FakeCalendly(ROWS))
    clean = all_rows(clean_client, count=30)

    faults = {0: "429", 1: "429", 2: "429", 4: "503", 6: "drop", 7: "connect", 9: "503"}
    faulty_api = FakeCalendly(ROWS, faults)
    client, clock = make_client(faulty_api, max_retries=4)
    assert all_rows(client, count=30) == clean
    pages = 8  # 237 rows / 30
    assert client.request_count == pages + len(faults)
    # after the 429 burst, the limiter waited for X-RateLimit-Reset (7 s) before retrying
    assert sum(clock.sleeps) >= 7.0


def test_429_pauses_until_reset_then_retries() -> None:
    api = FakeCalendly(ROWS[:5], {0: "429"})
    client, clock = make_client(api)
    assert [r["n"] for r in all_rows(client)] == [0, 1, 2, 3, 4]
    assert 7.0 <= clock.now - 1000.0 <= 7.0 + 0.5  # reset wait + at most one jittered backoff


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    api = FakeCalendly(ROWS[:1], dict.fromkeys(range(6), "503"))
    client, clock = make_client(api, max_retries=6, backoff_base=0.5, backoff_max=3.0)
    assert len(all_rows(client)) == 1
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(clock.sleeps) == 6
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(clock.sleeps, ceilings, strict=True))


def test_persistent_5xx_raises_server_error_after_max_retries() -> None:
    api = FakeCalendly(ROWS, dict.fromkeys(range(100), "503"))
    client, _ = make_client(api, max_retries=3)
    with pytest.raises(CalendlyServerError) as caught:
        client.get("/scheduled_events")
    assert caught.value.status == 503
    assert "after 3 retries" in str(caught.value)
    assert len(api.requests) == 4


def test_persistent_429_fails_once_its_time_budget_is_spent_not_after_a_retry_count() -> None:
    api = FakeCalendly(ROWS, dict.fromkeys(range(100), "429"))  # each 429 announces a 7 s reset
    client, clock = make_client(api, max_retries=2, rate_limit_wait=60.0)
    with pytest.raises(CalendlyRateLimitError) as caught:
        client.get("/scheduled_events")
    assert caught.value.status == 429
    # 429s at 0, 7, ..., 63 s: each reset waited out (not 2 retries), none after the budget
    assert len(api.requests) == 10
    assert clock() == pytest.approx(1063.0)
    assert str(caught.value) == (
        "429 Too Many Requests: Calendly kept rate limiting for 63 s - lower max_concurrency / "
        "requests_per_minute (free plans allow 50 requests per minute) or retry later; "
        "rate_limit_wait_seconds sets how long a request waits out 429s"
    )


def test_dropped_connections_exhausting_retries_raise_server_error() -> None:
    api = FakeCalendly(ROWS, dict.fromkeys(range(100), "drop"))
    client, _ = make_client(api, max_retries=2)
    with pytest.raises(CalendlyServerError) as caught:
        client.get("/scheduled_events")
    assert caught.value.status is None
    assert str(caught.value).startswith("Connection Failed: RemoteProtocolError")
    assert client.request_count == 3


def test_a_200_with_a_broken_body_is_retried() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:  # cut short on the way (an HTML page is another matter: below)
            return httpx.Response(200, content=b'{"resource": {"ur')
        return httpx.Response(200, json={"resource": {"uri": "u"}})

    client, _ = make_client(handler)
    assert client.get("/users/me") == {"resource": {"uri": "u"}}
    assert client.request_count == 2


# --- concurrency ----------------------------------------------------------------------


def test_map_concurrently_never_exceeds_max_concurrency_and_keeps_input_order() -> None:
    in_flight = 0
    peak = 0
    calls = 0
    lock = threading.Lock()
    # makes reaching 3 at once certain, not up to the OS scheduling 3 threads within a few ms
    first_three_overlap = threading.Barrier(3, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak, calls
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            calls += 1
            in_first_wave = calls <= 3
        if in_first_wave:
            first_three_overlap.wait()
            time.sleep(0.05)  # all three stay in flight while a 4th worker, if any, would start
        uuid = request.url.path.split("/")[2]
        time.sleep(0.002 * (int(uuid[1:]) % 5))  # uneven latency reorders completions
        with lock:
            in_flight -= 1
        return httpx.Response(200, json={"collection": [{"event": uuid}], "pagination": {}})

    client, _ = make_client(handler, max_concurrency=3)
    events = [f"E{i}" for i in range(40)]

    def invitees(uuid: str) -> list[dict[str, Any]]:
        return client.get(f"/scheduled_events/{uuid}/invitees")["collection"]

    results = list(client.map_concurrently(invitees, events))
    assert [item for item, _ in results] == events
    assert [rows[0]["event"] for _, rows in results] == events
    assert peak == 3
    assert client.request_count == 40


def test_map_concurrently_reraises_the_first_error_and_stops() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 5:
            raise CalendlyNotFoundError(404, message="gone")
        time.sleep(0.001)
        return n * 2

    client, _ = make_client(FakeCalendly([]), max_concurrency=2)
    got: list[tuple[int, int]] = []
    with pytest.raises(CalendlyNotFoundError, match="gone"):
        for pair in client.map_concurrently(work, range(1000)):
            got.append(pair)
    assert got == [(n, n * 2) for n in range(5)]
    assert len(started) < 100  # the input is streamed, not all submitted


# --- errors ---------------------------------------------------------------------------


def error_client(status: int, body: dict[str, Any]):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return make_client(handler)[0]


@pytest.mark.parametrize(
    ("status", "body", "params", "cls", "expected"),
    [
        (
            400,
            {
                "title": "Invalid Argument",
                "message": "The supplied parameters are invalid.",
                "details": [{"parameter": "count", "message": "must be between 1 and 100"}],
            },
            {"count": 500},
            CalendlyBadRequestError,
            "400 Invalid Argument: The supplied parameters are invalid. "
            "(count: must be between 1 and 100) - Calendly rejected the request parameters",
        ),
        (
            403,
            {"title": "Permission Denied", "message": "You do not have permission"},
            {"organization": "https://api.calendly.com/organizations/O1"},
            CalendlyForbiddenError,
            f"403 Permission Denied: You do not have permission - {ADVICE_ORGANIZATION_SCOPE}",
        ),
        (
            403,
            {"title": "Permission Denied", "message": "You do not have permission"},
            {"user": "https://api.calendly.com/users/U1"},
            CalendlyForbiddenError,
            "403 Permission Denied: You do not have permission - "
            "the token's user may not read this resource",
        ),
        (
            404,
            {"title": "Resource Not Found", "message": "The server could not find it"},
            None,
            CalendlyNotFoundError,
            f"404 Resource Not Found: The server could not find it - {ADVICE_NOT_FOUND}",
        ),
        (
            401,
            {"title": "Unauthenticated", "message": "The access token is invalid"},
            None,
            CalendlyAuthError,
            f"401 Unauthenticated: The access token is invalid - {ADVICE_UNAUTHENTICATED}",
        ),
    ],
)
def test_each_refusal_raises_its_class_with_title_message_details_and_advice(
    status: int,
    body: dict[str, Any],
    params: dict[str, Any] | None,
    cls: type[CalendlyApiError],
    expected: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = error_client(status, body)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(cls) as caught:
        client.get("/scheduled_events", params)
    error = caught.value
    assert type(error) is cls
    assert str(error) == expected
    assert error.status == status
    assert error.title == body["title"]
    assert error.message == body["message"]
    assert error.details == body.get("details", [])
    assert error.url == "/scheduled_events"
    assert client.request_count == 1  # refusals are not retried
    assert TOKEN not in str(error)
    assert TOKEN not in caplog.text


def test_an_expired_page_token_is_a_bad_request_with_restart_advice() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "page_token" in request.url.query.decode():
            return httpx.Response(
                400,
                json={
                    "title": "Invalid Argument",
                    "message": "The supplied parameters are invalid.",
                    "details": [{"parameter": "page_token", "message": "is expired"}],
                },
            )
        return httpx.Response(
            200,
            json={
                "collection": [{"n": 1}],
                "pagination": {"next_page": f"{BASE}/scheduled_events?count=100&page_token=abc"},
            },
        )

    client, _ = make_client(handler)
    pages = client.paginate("/scheduled_events")
    assert next(pages) == [{"n": 1}]
    with pytest.raises(CalendlyPageTokenExpiredError) as caught:
        next(pages)
    assert isinstance(caught.value, CalendlyBadRequestError)
    assert str(caught.value) == (
        "400 Invalid Argument: The supplied parameters are invalid. "
        f"(page_token: is expired) - {ADVICE_PAGE_TOKEN_EXPIRED}"
    )
    assert "abc" not in str(caught.value)


def test_401_with_a_personal_access_token_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeCalendly([])

    def handler(request: httpx.Request) -> httpx.Response:
        api.requests.append(request)
        return httpx.Response(
            401,
            json={"title": "Unauthenticated", "message": f"The access token {TOKEN} is invalid"},
        )

    client, _ = make_client(handler)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CalendlyAuthError) as caught:
        client.get("/users/me")
    assert len(api.requests) == 1
    assert TOKEN not in str(caught.value)  # even if the server echoes it
    assert "invalid" in str(caught.value)
    assert TOKEN not in caplog.text


def test_retry_logs_name_the_path_but_never_the_token_or_the_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeCalendly(ROWS[:3], {0: "503", 1: "drop"})
    client, _ = make_client(api)
    caplog.set_level(logging.DEBUG, logger="calendly_elt")
    rows = all_rows(client, invitee_email="person@example.com")
    assert len(rows) == 3
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) == 2
    assert all("/scheduled_events" in line for line in retry_lines)
    assert TOKEN not in caplog.text
    assert "person@example.com" not in caplog.text


def test_personal_access_token_auth_requires_a_token_and_hides_it() -> None:
    from calendly_elt.errors import ConfigError

    with pytest.raises(ConfigError, match="CALENDLY_ACCESS_TOKEN"):
        PersonalAccessTokenAuth("  ")
    auth = PersonalAccessTokenAuth(TOKEN)
    assert TOKEN not in repr(auth)
    assert auth.refresh_after_401(auth.authorization()) is False


def test_errors_survive_pickling_with_every_field() -> None:
    import pickle

    error = CalendlyForbiddenError(
        403,
        "Permission Denied",
        "no",
        details=[{"parameter": "organization", "message": "not an admin"}],
        advice=ADVICE_ORGANIZATION_SCOPE,
        url=f"{BASE}/scheduled_events?organization=O1",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is CalendlyForbiddenError
    assert (copy.status, copy.title, copy.message, copy.details, copy.advice, copy.url) == (
        403,
        "Permission Denied",
        "no",
        [{"parameter": "organization", "message": "not an admin"}],
        ADVICE_ORGANIZATION_SCOPE,
        "/scheduled_events",
    )
    assert (
        str(copy)
        == str(error)
        == (f"403 Permission Denied: no (organization: not an admin) - {ADVICE_ORGANIZATION_SCOPE}")
    )
