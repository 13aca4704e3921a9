"""``calendly-elt sim serve`` as a real process, and byte-identical determinism."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from calendly_elt.simulator import Simulator, generate_organization

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-01-15T12:00:00Z"


def cli() -> list[str]:
    """The installed ``calendly-elt`` console script (or an equivalent of it)."""
    script = Path(sys.executable).parent / "calendly-elt"
    if script.exists():
        return [str(script)]
    runner = "import sys; from calendly_elt.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", runner]


def read_lines(stream: object, count: int, timeout: float) -> list[str]:
    """Read ``count`` lines from a pipe, failing after ``timeout`` seconds."""
    lines: list[str] = []

    def reader() -> None:
        for _ in range(count):
            lines.append(stream.readline().rstrip("\n"))  # type: ignore[attr-defined]

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    assert len(lines) == count, f"only got {lines!r} within {timeout}s"
    return lines


# Runs a command with SIGINT at its default, as typed in a terminal. A child inherits an
# ignored SIGINT (a script's background job, some CI runners) and Python then installs no
# KeyboardInterrupt handler: Ctrl-C would never reach the server and the test would hang.
WITH_DEFAULT_SIGINT = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]  # fmt: skip


@pytest.fixture
def served() -> object:
    command = [*WITH_DEFAULT_SIGINT, *cli(), "sim", "serve", "--port", "0",
               "--size", "tiny", "--seed", "7", "--now", NOW]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_serve_prints_env_lines_and_answers_users_me(served: subprocess.Popen[str]) -> None:
    base_line, token_line, member_line = read_lines(served.stdout, 3, timeout=30)
    assert base_line.startswith("CALENDLY_BASE_URL=http://127.0.0.1:")
    assert token_line.startswith("CALENDLY_ACCESS_TOKEN=")
    assert member_line.startswith("CALENDLY_MEMBER_TOKEN=")
    base_url = base_line.split("=", 1)[1]
    token = token_line.split("=", 1)[1]
    expected = generate_organization(seed=7, size="tiny", now=datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert token == expected.admin_token
    admin = expected.users[expected.personal_access_tokens[token]]
    response = httpx.get(f"{base_url}/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"resource": admin}
    assert expected.roles[expected.personal_access_tokens[token]] in ("owner", "admin")
    member_token = member_line.split("=", 1)[1]
    assert member_token == expected.member_token
    assert expected.roles[expected.personal_access_tokens[member_token]] == "user"
    served.send_signal(signal.SIGINT)
    assert served.wait(timeout=10) == 0
    assert served.stdout.read() == ""  # nothing else (no secrets) on stdout


def test_serve_stops_cleanly_on_sigterm(served: subprocess.Popen[str]) -> None:
    read_lines(served.stdout, 3, timeout=30)
    served.terminate()
    assert served.wait(timeout=10) == 0


def test_serve_without_now_runs_on_the_real_clock() -> None:
    """The history ends at the floored hour, but what the API stamps is the real now."""
    command = [*WITH_DEFAULT_SIGINT, *cli(), "sim", "serve", "--port", "0", "--size", "tiny",
               "--no-webhooks"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        base_line, token_line = read_lines(process.stdout, 2, timeout=30)
        base_url, token = base_line.split("=", 1)[1], token_line.split("=", 1)[1]
        headers = {"Authorization": f"Bearer {token}"}
        me = httpx.get(f"{base_url}/users/me", headers=headers).json()["resource"]
        hook = {"url": "https://h.example/x", "events": ["invitee.created"],
                "organization": me["current_organization"], "scope": "organization"}  # fmt: skip
        before = datetime.now(UTC)
        response = httpx.post(f"{base_url}/webhook_subscriptions", json=hook, headers=headers)
        after = datetime.now(UTC)
        assert response.status_code == 201
        created = datetime.fromisoformat(response.json()["resource"]["created_at"])
        assert before - timedelta(seconds=2) <= created <= after + timedelta(seconds=2)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_serve_rejects_a_bad_now() -> None:
    result = subprocess.run(
        [*cli(), "sim", "serve", "--now", "yesterday"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--now 'yesterday' is not an ISO timestamp" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--port", "70000"], "--port 70000 is not a TCP port (0-65535; 0 picks a free one)"),
        (["--port", "-1"], "--port -1 is not a TCP port (0-65535; 0 picks a free one)"),
        (["--requests-per-minute", "0"], "--requests-per-minute 0 must be at least 1"),
        (["--size", "huge"], "unknown organization size 'huge'"),
    ],
)
def test_serve_rejects_bad_options_in_one_line(option: list[str], message: str) -> None:
    result = subprocess.run(
        [*cli(), "sim", "serve", *option],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert result.stdout == ""


def test_serve_refuses_a_busy_port_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*cli(), "sim", "serve", "--size", "tiny", "--port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == f"error: cannot serve on 127.0.0.1:{port}: Address already in use\n"
    assert result.stdout == ""


def _session_bytes(sim: Simulator) -> list[bytes]:
    """A fixed conversation with a fresh simulator; every response body in order."""
    headers = {"Authorization": f"Bearer {sim.admin_token}"}
    bodies: list[bytes] = []
    org = sim.store.organization["uri"]
    sim.register_oauth_client("app", "secret", "https://app.example/cb")
    with httpx.Client(transport=sim.transport(), base_url="http://sim", headers=headers) as client:
        url: str | None = "/scheduled_events"
        params: dict[str, str | int] | None = {"organization": org, "count": 37}
        while url:
            response = client.get(url, params=params)
            bodies.append(response.content)
            url, params = response.json()["pagination"]["next_page"], None
        event_uuid = response.json()["collection"][-1]["uri"].rsplit("/", 1)[-1]
        for path in ("/users/me", f"/scheduled_events/{event_uuid}/invitees",
                     f"/scheduled_events/{event_uuid}"):  # fmt: skip
            bodies.append(client.get(path).content)
        for path in ("/event_types", "/organization_memberships", "/routing_forms", "/groups"):
            bodies.append(client.get(path, params={"organization": org}).content)
        hook = {"url": "https://h.example/x", "events": ["invitee.created"],
                "organization": org, "scope": "organization"}  # fmt: skip
        bodies.append(client.post("/webhook_subscriptions", json=hook).content)
    bodies.append(repr(sim.issue_oauth_tokens(sim.store.personal_access_tokens[sim.admin_token],
                                              "app")).encode())  # fmt: skip
    return bodies


def test_same_seed_gives_byte_identical_responses() -> None:
    first = _session_bytes(Simulator(generate_organization(seed=5, size="tiny")))
    second = _session_bytes(Simulator(generate_organization(seed=5, size="tiny")))
    assert len(first) > 10
    assert first == second
    other = _session_bytes(Simulator(generate_organization(seed=6, size="tiny")))
    assert other != first


SESSION_DIGEST = """
import hashlib, httpx
from calendly_elt.simulator import Simulator, generate_organization
sim = Simulator(generate_organization(seed=7, size="small"))
digest = hashlib.sha256()
org = sim.store.organization["uri"]
headers = {"Authorization": f"Bearer {sim.admin_token}"}
with httpx.Client(transport=sim.transport(), base_url="http://sim", headers=headers) as client:
    url, params = "/scheduled_events", {"organization": org, "count": 100}
    while url:
        response = client.get(url, params=params)
        digest.update(response.content)
        body = response.json()
        for event in body["collection"][::10]:
            digest.update(client.get(event["uri"].replace("https://api.calendly.com", "")
                                     + "/invitees").content)
        url, params = body["pagination"]["next_page"], None
print(digest.hexdigest())
"""


def test_same_seed_gives_identical_bytes_across_processes() -> None:
    """No dependence on Python's per-process hash seed (set/dict order of strings)."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", SESSION_DIGEST], cwd=REPO, capture_output=True, text=True,
            timeout=120, env={**os.environ, "PYTHONHASHSEED": hash_seed}, check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }  # fmt: skip
    assert len(digests) == 1
    assert len(next(iter(digests))) == 64
