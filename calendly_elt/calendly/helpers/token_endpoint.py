"""The OAuth token endpoint over HTTP: one refresh request, retried and rate-limit aware.

5xx answers and lost connections are retried ``max_retries`` times with
jittered backoff. A 429 is not a failure to count: it is waited out for the
reset it announces (as API requests are), on its own time budget
(``rate_limit_wait`` seconds), so a burst of 429s cannot spend the retries
meant for 5xx. What the answers mean is ``token_responses.py``; the rotation
state machine that calls this is ``auth.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx

from calendly_elt.calendly.helpers.errors import path_of
from calendly_elt.calendly.helpers.rate_limit import (
    DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    jittered_backoff,
    wait_unless_cancelled,
)
from calendly_elt.calendly.helpers.token_responses import (
    oauth_error,
    reset_seconds,
    token_endpoint_unreachable,
    token_payload,
)

logger = logging.getLogger(__name__)


class TokenEndpoint:
    """POSTs refresh grants to ``<auth_base_url>/oauth/token``.

    Attributes:
        request_count: HTTP requests sent (retries included).
    """

    def __init__(
        self,
        *,
        auth_base_url: str,
        client_id: str,
        client_secret: str,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        rate_limit_wait: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS,
        sleep: Callable[[float], None] | None = None,
        timeout: float = 30.0,
        cancel: threading.Event | None = None,
    ) -> None:
        self.url = auth_base_url.rstrip("/") + "/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._rate_limit_wait = rate_limit_wait
        self._sleep = sleep
        self.cancelled = cancel if cancel is not None else threading.Event()
        self._http = httpx.Client(transport=transport, timeout=timeout)
        self.request_count = 0

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Exchange ``refresh_token``; the token payload, or the error for its refusal.

        Raises:
            CalendlyAuthError: The grant or the client was refused (400/401).
            CalendlyServerError: 5xx or no connection after every retry.
            CalendlyRateLimitError: 429s for longer than ``rate_limit_wait``.
        """
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        failures, rate_limited = 0, 0.0
        while True:
            last = failures == self._max_retries
            try:
                self.request_count += 1
                response = self._http.post(self.url, data=form)
            except httpx.TransportError as error:
                if last:
                    raise token_endpoint_unreachable(self.url, error) from None
                self._pause(failures, None, f"{type(error).__name__}")
                failures += 1
                continue
            if response.status_code == 429:
                rate_limited = self._wait_out_429(response, rate_limited)
                continue
            if response.status_code >= 500:
                if last:
                    raise oauth_error(response)
                self._pause(failures, response, str(response.status_code))
                failures += 1
                continue
            if response.status_code != 200:
                raise oauth_error(response)
            return token_payload(response)

    def _wait_out_429(self, response: httpx.Response, waited: float) -> float:
        """Wait for the announced reset (at least 1 s); fail once the time budget is spent."""
        delay = min(max(reset_seconds(response), 1.0), 60.0)
        if waited + delay > self._rate_limit_wait:
            raise oauth_error(response)
        logger.info(
            "token request to %s rate limited (429); waiting %.1f s", path_of(self.url), delay
        )
        wait_unless_cancelled(delay, self.cancelled, self._sleep)
        return waited + delay

    def _pause(self, attempt: int, response: httpx.Response | None, reason: str) -> None:
        delay = jittered_backoff(attempt + 1, self._backoff_base)
        if response is not None and response.status_code == 429:
            delay = max(delay, min(reset_seconds(response), 60.0))
        logger.warning(
            "token request to %s failed (%s); retry %d/%d in %.1f s",
            path_of(self.url),
            reason,
            attempt + 1,
            self._max_retries,
            delay,
        )
        wait_unless_cancelled(delay, self.cancelled, self._sleep)
