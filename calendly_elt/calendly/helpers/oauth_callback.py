"""The loopback redirect target of ``calendly-elt auth login`` (RFC 8252, section 7.3).

A one-shot HTTP listener on ``127.0.0.1`` (a random free port, or a given
one) in a daemon thread: the first request on ``/callback`` hands its query
parameters over and gets a short "you can close this tab" page; any other
path is a 404 (browsers also ask for ``/favicon.ico``). It only ever binds
the loopback interface, so nothing outside the machine can reach it.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from calendly_elt.errors import CalendlyEltError, ConfigError

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CALLBACK_PATH = "/callback"
_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>calendly-elt</title></head>"
    "<body><p>{text}</p></body></html>"
)


class OAuthLoginError(CalendlyEltError):
    """The OAuth login did not complete (refused, wrong state, timed out); nothing was stored."""


class LoopbackCallback:
    """Listen on ``http://127.0.0.1:<port>/callback`` for one OAuth redirect.

    Use as a context manager; ``redirect_uri`` is known once entered.

    Args:
        port: TCP port; 0 picks a free one.
    """

    def __init__(self, port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
        self._port = port
        self._received = threading.Event()
        self._params: dict[str, str] = {}
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        """The URI the authorization server must redirect to."""
        if self._server is None:
            raise RuntimeError("the callback listener is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackCallback:
        try:
            self._server = HTTPServer((LOOPBACK, self._port), self._handler_class())
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {LOOPBACK}:{self._port} for the OAuth redirect "
                f"({error.strerror or error}): pick another --port"
            ) from error
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="oauth-callback",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, timeout: float) -> dict[str, str]:
        """The redirect's query parameters.

        Raises:
            OAuthLoginError: No redirect arrived within ``timeout`` seconds.
        """
        if not self._received.wait(timeout):
            raise OAuthLoginError(
                f"no authorization arrived at {self.redirect_uri} within {timeout:g} s; "
                "open the printed URL in a browser on this machine and approve, then retry"
            )
        return dict(self._params)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        callback = self

        class _Handler(BaseHTTPRequestHandler):
            server_version = "calendly-elt-login"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH or callback._received.is_set():
                    self._answer(404, "Not the calendly-elt login callback.")
                    return
                callback._params = dict(parse_qsl(parts.query, keep_blank_values=True))
                refused = "error" in callback._params
                text = (
                    "Authorization refused; see the terminal."
                    if refused
                    else "calendly-elt received the authorization; you can close this tab."
                )
                self._answer(200, text)
                callback._received.set()

            def _answer(self, status: int, text: str) -> None:
                body = _PAGE.format(text=text).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("callback %s", self.command)  # never the query: it holds the code

        return _Handler
