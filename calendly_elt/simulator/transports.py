"""The ways into a simulator: in-process httpx transports and a real HTTP server.

``SimTransport``/``AsyncSimTransport`` route httpx requests straight into
``Simulator.handle`` (no sockets); ``SimHTTPHandler`` answers a
``ThreadingHTTPServer`` on 127.0.0.1 (``Simulator.serve``, ``sim serve``).
Injected delays and dropped connections behave as they would on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import parse_qsl

import httpx

from calendly_elt.simulator.wire import SimRequest, SimResponse

if TYPE_CHECKING:
    from calendly_elt.simulator.server import Simulator

logger = logging.getLogger(__name__)


# ---- httpx transports -----------------------------------------------------------


def _sim_request(request: httpx.Request, body: bytes) -> SimRequest:
    url = request.url
    return SimRequest(
        method=request.method.upper(),
        path=url.path or "/",
        query=tuple(parse_qsl(url.query.decode("ascii", "replace"), keep_blank_values=True)),
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body,
        base_url=f"{url.scheme}://{url.netloc.decode('ascii')}",
    )


def _httpx_response(response: SimResponse, request: httpx.Request) -> httpx.Response:
    if response.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


class SimTransport(httpx.BaseTransport):
    """Routes httpx requests straight into a ``Simulator`` (no sockets)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request; a dropped connection raises ``RemoteProtocolError``."""
        response = self.simulator.handle(_sim_request(request, request.read()))
        if response.delay_seconds and self.simulator.config.apply_delays:
            time.sleep(response.delay_seconds)
        return _httpx_response(response, request)


class AsyncSimTransport(httpx.AsyncBaseTransport):
    """Async twin of ``SimTransport``."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request; a dropped connection raises ``RemoteProtocolError``."""
        response = self.simulator.handle(_sim_request(request, await request.aread()))
        if response.delay_seconds and self.simulator.config.apply_delays:
            await asyncio.sleep(response.delay_seconds)
        return _httpx_response(response, request)


# ---- the real HTTP server -------------------------------------------------------


class SimHTTPHandler(BaseHTTPRequestHandler):
    """Answers HTTP requests with a ``Simulator`` (bound by :func:`handler_class`)."""

    simulator: ClassVar[Simulator]
    protocol_version = "HTTP/1.1"
    server_version = "calendly-elt-simulator"

    def do_GET(self) -> None:  # noqa: D102 - http.server's hook
        self._dispatch()

    def do_POST(self) -> None:  # noqa: D102 - http.server's hook
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: D102 - http.server's hook
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: D102 - http.server's hook
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: D102 - http.server's hook
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        bound = cast(tuple[str, int], self.server.server_address)
        host = self.headers.get("Host") or f"{bound[0]}:{bound[1]}"
        request = SimRequest.from_url(
            self.command, f"http://{host}{self.path}", dict(self.headers.items()), body
        )
        response = self.simulator.handle(request)
        if response.delay_seconds and self.simulator.config.apply_delays:
            time.sleep(response.delay_seconds)
        if response.drop:
            self._drop_connection()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop_connection(self) -> None:
        """Close the socket without a byte of response, as a crashed backend would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("socket already closed while dropping a connection")

    def log_message(self, format: str, *args: Any) -> None:
        """Access log lines at debug level (http.server writes them to stderr)."""
        logger.debug("%s - %s", self.address_string(), format % args)


def handler_class(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``simulator``."""
    return type("BoundSimHTTPHandler", (SimHTTPHandler,), {"simulator": simulator})
