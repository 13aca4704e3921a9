"""The landing store: durable appends, idempotency, rotation, torn lines, the reader API."""

from __future__ import annotations

import json
import logging
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calendly_elt.webhooks.landing import (
    LandingStore,
    delivery_id,
    iter_deliveries,
    landing_files,
)


def _body(n: int, event: str = "invitee.created") -> bytes:
    return json.dumps({
        "event": event, "created_at": f"2026-11-20T10:00:{n:02d}.000000Z",
        "created_by": "https://api.calendly.com/users/U1", "payload": {"uri": f"inv-{n}"},
    }).encode()  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_append_is_idempotent_and_read_back_in_order(tmp_path: Path) -> None:
    store = LandingStore(tmp_path)
    first = store.append(_body(1), "invitee.created")
    assert first == (delivery_id(_body(1)), True)
    assert store.append(_body(1), "invitee.created") == (first[0], False)
    store.append(_body(2, "invitee.canceled"), "invitee.canceled")
    store.close()
    delivered = list(iter_deliveries(tmp_path))
    assert [d.event for d in delivered] == ["invitee.created", "invitee.canceled"]
    assert delivered[0].id == delivery_id(_body(1))
    assert delivered[0].payload == {"uri": "inv-1"}
    assert delivered[0].created_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)
    assert delivered[0].raw_body.encode() == _body(1)
    assert delivered[1].body["created_by"] == "https://api.calendly.com/users/U1"
    (path,) = landing_files(tmp_path)
    assert len(path.read_text().splitlines()) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_index_is_rebuilt_at_start_and_a_restart_opens_a_new_file(tmp_path: Path) -> None:
    LandingStore(tmp_path).append(_body(1), "invitee.created")
    again = LandingStore(tmp_path)
    assert delivery_id(_body(1)) in again and len(again) == 1
    assert again.append(_body(1), "invitee.created")[1] is False
    again.append(_body(2), "invitee.created")
    files = landing_files(tmp_path)
    assert [p.name[-12:] for p in files] == ["000001.jsonl", "000002.jsonl"]
    assert [d.payload["uri"] for d in iter_deliveries(tmp_path)] == ["inv-1", "inv-2"]


def test_rotation_by_day_and_by_size(tmp_path: Path) -> None:
    clock = Clock()
    store = LandingStore(tmp_path, max_file_bytes=600, clock=clock)
    store.append(_body(1), "invitee.created")
    clock.now += timedelta(minutes=2)  # past midnight: a new day, a new file
    store.append(_body(2), "invitee.created")
    for n in range(3, 9):
        store.append(_body(n), "invitee.created")
    names = [p.name for p in landing_files(tmp_path)]
    assert names[0].startswith("deliveries-20261120-") and names[1].startswith(
        "deliveries-20261121-"
    )
    assert len(names) > 3  # six ~300-byte lines cannot share a 600-byte file
    assert all(p.stat().st_size <= 600 + 400 for p in landing_files(tmp_path))
    assert [d.payload["uri"] for d in iter_deliveries(tmp_path)] == [
        f"inv-{n}" for n in range(1, 9)
    ]
    assert [d.received_at.day for d in iter_deliveries(tmp_path)][:2] == [20, 21]


def test_a_torn_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LandingStore(tmp_path)
    store.append(_body(1), "invitee.created")
    store.append(_body(2), "invitee.created")
    store.close()
    (path,) = landing_files(tmp_path)
    text = path.read_bytes()
    path.write_bytes(text[: len(text) - 25])  # a crash cut the second line
    with caplog.at_level(logging.WARNING, logger="calendly_elt.webhooks.landing"):
        assert [d.payload["uri"] for d in iter_deliveries(tmp_path)] == ["inv-1"]
        restarted = LandingStore(tmp_path)
    assert "torn line 2" in caplog.text
    assert restarted.append(_body(2), "invitee.created")[1] is True  # never acknowledged
    assert [d.payload["uri"] for d in iter_deliveries(tmp_path)] == ["inv-1", "inv-2"]


def test_garbage_lines_and_duplicate_ids_across_files_are_read_once(tmp_path: Path) -> None:
    LandingStore(tmp_path).append(_body(1), "invitee.created")
    (first,) = landing_files(tmp_path)
    copy = tmp_path / "deliveries-20261121-000009.jsonl"
    copy.write_bytes(b"not json\n" + first.read_bytes() + b'{"id": 1}\n')
    (tmp_path / "notes.txt").write_text("ignored")
    assert [d.payload["uri"] for d in iter_deliveries(tmp_path)] == ["inv-1"]
    assert landing_files(tmp_path / "missing") == []
    assert list(iter_deliveries(tmp_path / "missing")) == []


def test_unknown_event_names_are_kept(tmp_path: Path) -> None:
    LandingStore(tmp_path).append(_body(1, "contact.created"), "contact.created")
    assert [d.event for d in iter_deliveries(tmp_path)] == ["contact.created"]
