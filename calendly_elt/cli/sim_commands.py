"""``calendly-elt sim ...``: run the bundled Calendly simulator."""

from __future__ import annotations

import logging
import signal
import sys
import time
from datetime import UTC, datetime
from types import FrameType

import typer

from calendly_elt.cli.main import app, sub_app
from calendly_elt.errors import ConfigError

logger = logging.getLogger(__name__)

# the OAuth app `sim serve` registers, for trying `calendly-elt auth login` against it
SIM_OAUTH_CLIENT_ID = "calendly-elt-sim"
SIM_OAUTH_CLIENT_SECRET = "calendly-elt-sim-secret"  # public: the simulator holds no data
SIM_OAUTH_REDIRECT_URI = "http://127.0.0.1/callback"  # loopback: any port is accepted

sim_app = sub_app("The bundled Calendly API simulator.")
app.add_typer(sim_app, name="sim")


def _serve_start(now: str | None) -> datetime:
    """The ``--now`` instant, or the current UTC time floored to the hour."""
    if now is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--now {now!r} is not an ISO timestamp like 2026-01-15T12:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_serve_numbers(port: int, requests_per_minute: int) -> None:
    """Refuse a port outside 0-65535 or a rate limit below 1 request per minute."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    if requests_per_minute < 1:
        raise ConfigError(f"--requests-per-minute {requests_per_minute} must be at least 1")


@sim_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8765, help="TCP port (0 picks a free one)."),
    seed: int = typer.Option(7, help="Seed of the generated organization."),
    size: str = typer.Option("small", help="Organization size: tiny, small, medium, large."),
    requests_per_minute: int = typer.Option(
        500, "--requests-per-minute", help="Per-user rate limit (500 paid plans, 50 free)."
    ),
    now: str | None = typer.Option(
        None,
        help="Simulated start instant (ISO, UTC): the generated history ends there and the"
        " served clock starts there; default: history up to now floored to the hour, clock"
        " at the real now.",
    ),
    webhooks: bool = typer.Option(
        True, help="POST signed webhooks to subscriptions created through the API."
    ),
) -> None:
    """Serve a generated organization as api.calendly.com until Ctrl-C.

    Prints CALENDLY_BASE_URL=... and CALENDLY_ACCESS_TOKEN=... (an admin's
    personal access token) on lines of their own, ready for the environment,
    then CALENDLY_MEMBER_TOKEN=... (a member's token, not an admin: use it as
    CALENDLY_ACCESS_TOKEN with SOURCES__CALENDLY__SCOPE=user).
    An OAuth app is registered too (``calendly-elt-sim`` / ``calendly-elt-sim-secret``,
    loopback redirect on any port), for ``calendly-elt auth login``.
    """
    from calendly_elt.simulator import SimConfig, Simulator, generate_organization
    from calendly_elt.simulator.store import SimClock

    _check_serve_numbers(port, requests_per_minute)
    start = _serve_start(now)
    try:
        store = generate_organization(seed=seed, size=size, now=start)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    # history is generated up to the floored hour (reproducible within the hour), but the
    # served clock is the real one: webhook timestamps must pass a receiver's 3-minute check
    store.clock = SimClock(start if now is not None else datetime.now(UTC), ticking=True)
    config = SimConfig(requests_per_minute=requests_per_minute, deliver_webhooks=webhooks)
    simulator = Simulator(store, config)
    simulator.register_oauth_client(
        SIM_OAUTH_CLIENT_ID, SIM_OAUTH_CLIENT_SECRET, SIM_OAUTH_REDIRECT_URI
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with simulator.serve(host, port) as base_url:
            typer.echo(f"CALENDLY_BASE_URL={base_url}")
            typer.echo(f"CALENDLY_ACCESS_TOKEN={simulator.admin_token}")
            # not an org admin: a run with it needs scope = "user" (the 403 advice says how)
            typer.echo(f"CALENDLY_MEMBER_TOKEN={simulator.member_token}")
            sys.stdout.flush()
            _wait_forever()
    except OSError as error:
        raise ConfigError(f"cannot serve on {host}:{port}: {error.strerror}") from None
    except KeyboardInterrupt:
        logger.info("simulator stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C: stop serving and exit cleanly."""
    raise KeyboardInterrupt


def _wait_forever() -> None:
    """Block the main thread (the server runs in a daemon thread) until interrupted."""
    while True:
        time.sleep(3600)
