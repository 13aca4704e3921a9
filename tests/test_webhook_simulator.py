"""End to end: `webhooks subscribe` on the served simulator, mutations, verified and landed."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from webhook_helpers import AsgiClient

from calendly_elt.cli.main import main
from calendly_elt.simulator import SimConfig, Simulator, event_type_mutations, mutations
from calendly_elt.simulator.scenarios import DEMO, OLIVIA, build_tiny_organization
from calendly_elt.simulator.store import uuid_of
from calendly_elt.webhooks.keys import SigningKeyStore
from calendly_elt.webhooks.landing import LandingStore, iter_deliveries
from calendly_elt.webhooks.receiver import create_app

RECEIVER_URL = "https://hooks.example.com/webhooks/calendly"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(build_tiny_organization(), SimConfig(deliver_webhooks=True))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALENDLY_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("CALENDLY_ACCESS_TOKEN", simulator.admin_token)
    with simulator.serve() as base_url:
        monkeypatch.setenv("CALENDLY_BASE_URL", base_url)
        yield simulator


def _book(sim: Simulator, email: str, hours: int) -> dict:
    start = (sim.clock.now() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    return mutations.book(sim.store, event_type_uuid=DEMO, start_time=start, email=email,
                          name=email.split("@")[0])  # fmt: skip


def _mutate(sim: Simulator) -> None:
    """Every kind of change a subscription carries."""
    kept = _book(sim, "kept@example.com", 26)
    canceled = _book(sim, "gone@example.com", 50)
    mutations.cancel_invitee(sim.store, uuid_of(canceled["uri"]), reason="clash")
    moved = _book(sim, "moved@example.com", 74)
    mutations.reschedule(sim.store, uuid_of(moved["uri"]),
                         new_start_time=sim.clock.now() + timedelta(hours=98))  # fmt: skip
    # Deliveries are signed and POSTed by the sender thread at the clock's now; the
    # receiver checks the signature's age against the same clock. Moving simulated time
    # while one is in flight makes it 28 h old on arrival (a 401), so wait for them first.
    assert sim.webhooks is not None
    sim.webhooks.flush()
    sim.clock.advance(timedelta(hours=28))  # the first meeting has happened
    no_show = mutations.mark_no_show(sim.store, uuid_of(kept["uri"]))
    mutations.unmark_no_show(sim.store, uuid_of(no_show["uri"]))
    created = event_type_mutations.create_event_type(sim.store, OLIVIA, "Office Hours")
    event_type_mutations.update_event_type(sim.store, uuid_of(created["uri"]), duration=45)
    event_type_mutations.delete_event_type(sim.store, uuid_of(created["uri"]))


def test_subscribe_then_mutations_land_verified_deliveries(
    served: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_path = tmp_path / ".dlt" / "calendly.webhook-keys.json"
    assert main(["webhooks", "subscribe", "--url", RECEIVER_URL]) == 0
    out = capsys.readouterr().out
    uri = out.splitlines()[0].removeprefix("subscribed: ")
    (entry,) = SigningKeyStore(key_path).entries()
    assert entry.subscription_uri == uri and entry.callback_url == RECEIVER_URL
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert entry.signing_key not in out
    assert served.store.webhook_signing_keys[uuid_of(uri)] == entry.signing_key

    landing = LandingStore(tmp_path / "landing")
    clock = served.clock
    receiver = AsgiClient(create_app([entry.signing_key], landing,
                                     now=lambda: clock.now().timestamp()))  # fmt: skip
    statuses: list[int] = []

    def send(url: str, headers: dict[str, str], body: bytes) -> int:
        time.sleep(0.05)  # a loaded machine: the sender thread is slow to post
        response = receiver.post(urlsplit(url).path, content=body, headers=headers)
        statuses.append(response.status_code)
        return response.status_code

    assert served.webhooks is not None
    served.webhooks.send = send
    try:
        _mutate(served)
        served.webhooks.flush()
    finally:
        receiver.close()
    landed = list(iter_deliveries(landing.directory))
    assert statuses == [200] * 11
    assert [d.event for d in landed] == [
        "invitee.created", "invitee.created", "invitee.canceled", "invitee.created",
        "invitee.canceled", "invitee.created", "invitee_no_show.created",
        "invitee_no_show.deleted", "event_type.created", "event_type.updated",
        "event_type.deleted",
    ]  # fmt: skip
    emails = [d.payload.get("email") for d in landed[:6]]
    assert emails == ["kept@example.com", "gone@example.com", "gone@example.com",
                      "moved@example.com", "moved@example.com", "moved@example.com"]  # fmt: skip
    assert landed[4].payload["rescheduled"] is True and landed[5].payload["old_invitee"]
    assert landed[6].payload["no_show"] is not None and landed[7].payload["no_show"] is None
    assert landed[10].payload["deleted_at"] is not None


def test_list_and_delete_forget_the_key(
    served: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.json"
    assert main(["webhooks", "subscribe", "--url", RECEIVER_URL, "--key-store", str(keys),
                 "--events", "invitee.created,invitee.canceled"]) == 0  # fmt: skip
    uri = capsys.readouterr().out.splitlines()[0].removeprefix("subscribed: ")
    assert main(["webhooks", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{uri}  active  {RECEIVER_URL}  invitee.created,invitee.canceled" in listed
    assert main(["webhooks", "delete", uri, "--key-store", str(keys)]) == 0
    assert capsys.readouterr().out.strip() == f"deleted: {uri}"
    assert served.store.webhook_subscriptions == {}
    assert json.loads(keys.read_text()) == {"signing_keys": []}
    assert main(["webhooks", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no webhook subscriptions"


def test_a_refused_subscription_keeps_no_key(
    served: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.json"
    code = main(["webhooks", "subscribe", "--url", RECEIVER_URL, "--key-store", str(keys),
                 "--events", "invitee.rescheduled"])  # fmt: skip
    assert code != 0
    assert "invitee.rescheduled" in capsys.readouterr().err
    assert SigningKeyStore(keys).entries() == []
    assert main(["webhooks", "subscribe", "--url", RECEIVER_URL, "--scope", "user",
                 "--key-store", str(keys), "--events", "invitee.created"]) == 0  # fmt: skip
    (hook,) = served.store.webhook_subscriptions.values()
    assert hook["scope"] == "user" and hook["user"].endswith(OLIVIA)


def test_serve_without_any_key_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALENDLY_WEBHOOK_SECRET", raising=False)
    assert main(["webhooks", "serve", "--key-store", str(tmp_path / "none.json")]) == 2
    assert "CALENDLY_WEBHOOK_SECRET" in capsys.readouterr().err
    assert main(["webhooks", "serve", "--port", "70000"]) == 2
