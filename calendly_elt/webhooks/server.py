"""Run the receiver under uvicorn on a socket bound here (so port 0 works and errors are clear).

``uvicorn`` handles SIGINT and SIGTERM: it stops accepting, finishes the
requests in flight (each already landed before it is answered), then returns.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from calendly_elt.errors import ConfigError
from calendly_elt.webhooks.landing import LandingStore
from calendly_elt.webhooks.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DELIVERY_PATH,
    MAX_BODY_BYTES,
)

logger = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 picks a free port).

    Raises:
        ConfigError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot serve on {host}:{port}: {error.strerror}") from None
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def _uvicorn() -> Any:
    """The uvicorn module, or a clear error when the ``webhooks`` extra is not installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError(
            "the webhook receiver needs its extra: pip install 'calendly-elt[webhooks]'"
        ) from None
    return uvicorn


def serve(
    signing_keys: Sequence[str] | Callable[[], Sequence[str]],
    landing_dir: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_body_bytes: int = MAX_BODY_BYTES,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``POST /webhooks/calendly`` and ``GET /healthz`` until SIGINT or SIGTERM.

    Args:
        signing_keys: The keys deliveries may be signed with (or a function returning them).
        landing_dir: The landing store's folder.
        host: Interface to bind (put a TLS reverse proxy in front for Calendly).
        port: TCP port; 0 picks a free one.
        max_body_bytes: Largest accepted delivery body.
        on_ready: Called with the delivery URL once the socket listens.
    """
    uvicorn = _uvicorn()
    from calendly_elt.webhooks.receiver import create_app

    store = LandingStore(landing_dir)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    app = create_app(signing_keys, store, max_body_bytes=max_body_bytes)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    logger.info("receiver landing %d deliveries so far in %s", len(store), landing_dir)
    if on_ready is not None:
        on_ready(f"http://{shown}:{bound_port}{DELIVERY_PATH}")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
        sock.close()
