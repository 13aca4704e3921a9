"""The receiver: only correctly signed, fresh, well-formed deliveries land, each once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_helpers import AsgiClient

from calendly_elt.simulator.webhooks import sign as simulator_sign
from calendly_elt.webhooks.errors import RejectedDelivery
from calendly_elt.webhooks.landing import LandingStore, delivery_id, iter_deliveries
from calendly_elt.webhooks.receiver import create_app
from calendly_elt.webhooks.signature import SIGNATURE_HEADER, parse_header, sign, verify

KEY = "test-signing-key"
NOW = 1_795_000_000
URL = "/webhooks/calendly"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def landing(tmp_path: Path) -> Iterator[LandingStore]:
    store = LandingStore(tmp_path / "landing")
    yield store
    store.close()


@pytest.fixture
def client(landing: LandingStore, clock: Clock) -> Iterator[AsgiClient]:
    client = AsgiClient(create_app(["old-key", KEY], landing, max_body_bytes=4096, now=clock))
    yield client
    client.close()


def _body(n: int, event: str = "invitee.created") -> bytes:
    return json.dumps({"event": event, "created_at": "2026-11-20T10:00:00.000000Z",
                       "created_by": "u", "payload": {"uri": f"inv-{n}"}}).encode()  # fmt: skip


def _post(client: AsgiClient, body: bytes, header: str | None = "sign",
          content_type: str = "application/json", t: int = NOW) -> int:  # fmt: skip
    headers = {"Content-Type": content_type}
    if header == "sign":
        header = sign(KEY, t, body)
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return client.post(URL, content=body, headers=headers).status_code


def _landed(landing: LandingStore) -> list[str]:
    return [d.payload.get("uri", d.raw_body) for d in iter_deliveries(landing.directory)]


def test_acceptance_only_valid_deliveries_land_each_once(
    client: AsgiClient, landing: LandingStore
) -> None:
    good = [_body(1), _body(2, "invitee_no_show.created"), _body(3, "some.future_event")]
    statuses = {f"valid {n}": _post(client, body) for n, body in enumerate(good)}
    bad = {
        "bad signature": _post(client, _body(10), header=sign("wrong-key", NOW, _body(10))),
        "no header": _post(client, _body(11), header=None),
        "malformed header": _post(client, _body(12), header="v1=abc;t=now"),
        "stale timestamp": _post(client, _body(13), t=NOW - 181),
        "future timestamp": _post(client, _body(14), t=NOW + 181),
        "tampered body": _post(
            client, _body(15).replace(b"inv-15", b"inv-99"), header=sign(KEY, NOW, _body(15))
        ),
        "malformed JSON": _post(client, b'{"event": "invitee.created", '),
        "JSON not an object": _post(client, b'["invitee.created"]'),
        "wrong content type": _post(client, _body(16), content_type="text/plain"),
        "oversized body": _post(client, b'{"event":"x","pad":"' + b"a" * 5000 + b'"}'),
    }
    replay = _post(client, good[0])  # same body and signature again
    redelivery = _post(client, good[0], t=NOW - 60)  # a retry: same body, new signature
    assert set(statuses.values()) == {200}
    assert (replay, redelivery) == (200, 200)
    assert bad == {
        "bad signature": 401, "no header": 400, "malformed header": 400,
        "stale timestamp": 401, "future timestamp": 401, "tampered body": 401,
        "malformed JSON": 400, "JSON not an object": 400, "wrong content type": 415,
        "oversized body": 413,
    }  # fmt: skip
    assert _landed(landing) == ["inv-1", "inv-2", "inv-3"]
    assert len(landing) == 3


def test_no_signing_key_in_debug_logs_or_answers_on_any_path(
    client: AsgiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    answers = [
        client.post(URL, content=body, headers={"Content-Type": "application/json", **extra})
        for body, extra in (
            (_body(1), {SIGNATURE_HEADER: sign(KEY, NOW, _body(1))}),
            (_body(2), {SIGNATURE_HEADER: sign("wrong-key", NOW, _body(2))}),
            (_body(3), {SIGNATURE_HEADER: sign(KEY, NOW - 600, _body(3))}),
            (_body(4), {SIGNATURE_HEADER: f"t={NOW},v1={KEY}"}),  # the key itself as a digest
            (_body(5), {}),
            (b"{not json", {SIGNATURE_HEADER: sign(KEY, NOW, b"{not json")}),
        )
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 401, 401, 400, 400]
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for secret in (KEY, "old-key"):
        assert secret not in caplog.text
        assert all(secret not in answer.text for answer in answers)


def test_answers_say_landed_then_duplicate_and_healthz_counts(client: AsgiClient) -> None:
    body = _body(1)
    headers = {"Content-Type": "application/json; charset=utf-8",
               SIGNATURE_HEADER: sign(KEY, NOW, body)}  # fmt: skip
    first = client.post(URL, content=body, headers=headers)
    second = client.post(URL, content=body, headers=headers)
    assert first.json() == {"status": "landed", "id": delivery_id(body)}
    assert second.json() == {"status": "duplicate", "id": delivery_id(body)}
    assert client.get("/healthz").json() == {"status": "ok", "landed": 1}
    assert client.get(URL).status_code == 405


def test_a_key_of_an_older_subscription_still_verifies(client: AsgiClient) -> None:
    body = _body(5)
    assert _post(client, body, header=sign("old-key", NOW, body)) == 200


def test_streamed_body_over_the_limit_is_refused_without_content_length(
    client: AsgiClient, landing: LandingStore
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"event":"x","pad":"'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(KEY, NOW, b"")}
    response = client.post(URL, content=chunks(), headers=headers)
    assert response.status_code == 413
    assert len(landing) == 0


def test_the_simulators_signature_verifies_and_ours_matches_it() -> None:
    body = _body(1)
    assert sign(KEY, NOW, body) == simulator_sign(KEY, NOW, body)
    assert verify([KEY], simulator_sign(KEY, NOW, body), body, now=NOW + 180) == NOW
    with pytest.raises(RejectedDelivery) as stale:
        verify([KEY], simulator_sign(KEY, NOW, body), body, now=NOW + 181)
    assert stale.value.status == 401


@pytest.mark.parametrize(
    "header",
    ["", "t=1", "v1=" + "a" * 64, "t=abc,v1=" + "a" * 64, "t=1;v1=2", "t=-5,v1=" + "a" * 64,
     "t=١٢٣,v1=" + "a" * 64],
)  # fmt: skip
def test_malformed_headers(header: str) -> None:
    with pytest.raises(RejectedDelivery) as refused:
        parse_header(header)
    assert refused.value.status == 400


def test_several_v1_digests_one_matching() -> None:
    body = _body(1)
    digest = sign(KEY, NOW, body).split("v1=")[1]
    assert verify([KEY], f"t={NOW},v1={'0' * 64},v1={digest}", body, now=NOW) == NOW


# ---- property: nothing a sender can send makes the receiver fail with a 5xx ----------

header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=120)
signature_headers = st.one_of(
    st.none(),
    header_text,
    st.builds(lambda t, d: f"t={t},v1={d}", st.integers(-(10**15), 10**15), header_text),
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=20,
    ).map(lambda value: json.dumps(value).encode()),
    st.integers(1, 4000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.builds(
        lambda event, payload: json.dumps({"event": event, "payload": payload}).encode(),
        st.text(max_size=30),
        st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    header=signature_headers,
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/JSON; x=y"]),
    sign_it=st.booleans(),
    skew=st.integers(-400, 400),
)
def test_no_input_gets_a_5xx(
    client: AsgiClient, landing: LandingStore, body: bytes, header: str | None,
    content_type: str, sign_it: bool, skew: int,
) -> None:  # fmt: skip
    if sign_it:
        header = sign(KEY, NOW + skew, body)
    headers = {"Content-Type": content_type} if content_type else {}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    try:
        response = client.post(URL, content=body, headers=headers)
    except UnicodeEncodeError:  # the HTTP client itself cannot send such a header
        return
    assert response.status_code < 500
    assert response.status_code in (200, 400, 401, 413, 415)
    if response.status_code == 200:
        assert delivery_id(body) in landing
