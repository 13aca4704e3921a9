"""A synchronous client for the receiver's ASGI app (httpx's ASGI transport, no sockets)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal


class AsgiClient:
    """Calls an ASGI app in-process from synchronous tests, like a real HTTP client would."""

    def __init__(self, app: Any) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://receiver")

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            return await self._client.request(method, url, **options)

        return self._portal.call(call)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._stack.close()
