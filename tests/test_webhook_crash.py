"""The receiver as a real process, SIGKILLed mid-stream: every acknowledged delivery survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from calendly_elt.webhooks.landing import delivery_id, iter_deliveries, landing_files
from calendly_elt.webhooks.signature import SIGNATURE_HEADER, sign

KEY = "crash-test-key"
SENDERS = 4
KILL_AFTER_ACKS = 40


@contextmanager
def receiver(landing: Path, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "CALENDLY_WEBHOOK_SECRET": KEY}
    command = [sys.executable, "-m", "calendly_elt.cli.main", "webhooks", "serve",
               "--port", "0", "--landing-dir", str(landing)]  # fmt: skip
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the socket listens
        assert line.startswith("WEBHOOK_URL="), line
        url = line.strip().split("=", 1)[1]
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _delivery(sender: int, n: int) -> bytes:
    payload = {"uri": f"inv-{sender}-{n}"}
    return json.dumps({"event": "invitee.created", "created_by": "u", "payload": payload}).encode()


def _post(client: httpx.Client, url: str, body: bytes) -> int:
    headers = {"Content-Type": "application/json",
               SIGNATURE_HEADER: sign(KEY, int(time.time()), body)}  # fmt: skip
    return client.post(url, content=body, headers=headers).status_code


def _stream(url: str, sender: int, acked: list[bytes], tried: list[bytes],
            stop: threading.Event) -> None:  # fmt: skip
    with httpx.Client(timeout=10) as client:
        for n in range(100_000):
            if stop.is_set():
                return
            body = _delivery(sender, n)
            tried.append(body)
            try:
                status = _post(client, url, body)
            except httpx.HTTPError:
                return  # the receiver died: this one was not acknowledged
            if 200 <= status < 300:
                acked.append(body)


def test_acknowledged_deliveries_survive_sigkill(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    acked: list[bytes] = []
    tried: list[bytes] = []
    stop = threading.Event()
    with receiver(landing, tmp_path) as (process, url):
        threads = [threading.Thread(target=_stream, args=(url, s, acked, tried, stop))
                   for s in range(SENDERS)]  # fmt: skip
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # mid-stream: senders are still posting
        process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(acked) >= KILL_AFTER_ACKS
    with receiver(landing, tmp_path) as (_, url):
        landed = {delivery.id for delivery in iter_deliveries(landing)}
        assert {delivery_id(body) for body in acked} <= landed
        # Calendly retries what was not acknowledged: each lands, nothing twice
        with httpx.Client(timeout=10) as client:
            statuses = {_post(client, url, body) for body in tried}
        assert statuses == {200}
    counts = Counter(_ids_on_disk(landing))
    assert set(counts) >= {delivery_id(body) for body in tried}
    assert max(counts.values()) == 1


def _ids_on_disk(landing: Path) -> Iterator[str]:
    """Every id written, straight from the files (a torn line is no id)."""
    for path in landing_files(landing):
        for line in path.read_text().splitlines():
            try:
                yield json.loads(line)["id"]
            except ValueError:
                continue
