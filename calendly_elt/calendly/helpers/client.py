"""The Calendly HTTP client: auth, retries, rate limiting, paging and concurrency.

One pooled ``httpx.Client`` serves every thread. Each request:

1. waits for the shared :class:`RateLimiter` (requests per minute, and
   Calendly's ``X-RateLimit-*`` headers);
2. carries the ``Authorization`` header of the :class:`Authenticator`;
3. on a 429, waits for the reset Calendly announces (every thread paused)
   and tries again, for up to ``rate_limit_wait`` seconds of 429s per
   request: a rate limit is a wait, not a failure, and does not count
   against the retries of 5) ;
4. is retried with exponential backoff and full jitter on 5xx and
   connection errors, ``max_retries`` times;
5. after a 401, asks the authenticator once for a fresh token (OAuth) and
   retries, else raises :class:`CalendlyAuthError` naming where the token
   came from;
6. on 400/403/404 raises at once with Calendly's title, message, details and
   advice (see ``errors.py``); an HTML page (the base URL is not the API) too.

Paging (``pagination.next_page`` links, page-token restarts) is in
``paging.py``; ``paginate`` and ``read_all`` here bind it to the client.
``map_concurrently`` runs the per-event invitee calls on a bounded thread
pool and yields results in input order.

``cancel()`` (the CLI calls it on Ctrl-C and SIGTERM) sets the event every wait
of the client is taken on: threads waiting for the rate limiter or a retry wake
at once and raise ``RequestCancelled``, and no further request is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from calendly_elt.calendly.helpers.auth import Authenticator
from calendly_elt.calendly.helpers.concurrency import WorkerPool
from calendly_elt.calendly.helpers.errors import CalendlyApiError, path_of
from calendly_elt.calendly.helpers.paging import paginate, read_all
from calendly_elt.calendly.helpers.rate_limit import (
    DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    DEFAULT_REQUESTS_PER_MINUTE,
    RateLimiter,
    RequestCancelled,
    jittered_backoff,
    wait_unless_cancelled,
)
from calendly_elt.calendly.helpers.responses import (
    answer_body,
    exhausted,
    refusal,
    retryable_error,
    wait_out_rate_limit,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

USER_AGENT = "calendly-elt (+https://github.com/calendly-elt)"


@dataclass
class RequestCounters:
    """What a client has sent so far: requests (retries included), retries, 429s.

    ``retries`` counts the attempts that followed a 5xx or a connection error
    (the last, given up, attempt included); ``rate_limited`` the 429 answers.
    """

    sent: int = 0
    retries: int = 0
    rate_limited: int = 0


class CalendlyClient:
    """Thread-safe client for Calendly's v2 API.

    Attributes:
        base_url: The API root, e.g. ``https://api.calendly.com``.
        auth: The authenticator supplying Bearer tokens.
        max_concurrency: Most calls in flight at once in ``map_concurrently``.
        rate_limiter: The limiter shared by every request of this client.
        rate_limit_wait: Seconds of 429s one request waits out before failing.
        cancelled: The event ``cancel()`` sets; every wait of the client is taken on it.
        counters: Requests sent, retries and 429s so far (run history reads them,
            also after a failure); pass one in to read it after the client is gone.
        pool: The run's worker threads (``max_concurrency`` of them), shut down by ``close``.
    """

    def __init__(
        self,
        base_url: str,
        auth: Authenticator,
        *,
        requests_per_minute: int | None = None,
        max_concurrency: int = 8,
        max_retries: int = 6,
        rate_limit_wait: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_limiter: RateLimiter | None = None,
        cancel: threading.Event | None = None,
        counters: RequestCounters | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.rate_limit_wait = rate_limit_wait
        self._clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.cancelled = cancel if cancel is not None else threading.Event()
        self.rate_limiter = rate_limiter or RateLimiter(
            requests_per_minute or DEFAULT_REQUESTS_PER_MINUTE,
            clock=clock,
            sleep=sleep,
            in_flight=max_concurrency,
            cancel=self.cancelled,
            ceiling=requests_per_minute,
        )
        connections = max(max_concurrency, 1) + 2
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        self._origin = _origin(self.base_url)
        self.pool = WorkerPool(max_concurrency, on_interrupt=self.cancel)
        self._count_lock = threading.Lock()
        self.counters = counters if counters is not None else RequestCounters()

    @property
    def request_count(self) -> int:
        """HTTP requests actually sent: API calls, retries and token refreshes."""
        with self._count_lock:
            own = self.counters.sent
        return own + int(getattr(self.auth, "token_request_count", 0))

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a resource and return its JSON body.

        Args:
            path_or_url: A path relative to ``base_url`` (``"/users/me"``) or a
                full URL on the same host (a ``next_page`` link).
            params: Query parameters (``None`` values are dropped).

        Returns:
            The decoded JSON object.

        Raises:
            CalendlyApiError: A subclass matching Calendly's refusal.
        """
        url = self._resolve(path_or_url)
        query = {key: value for key, value in (params or {}).items() if value is not None}
        return self._request("GET", url, query)

    def post(self, path: str, json_body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a JSON body (e.g. ``/webhook_subscriptions``) and return the JSON answer.

        Args:
            path: A path relative to ``base_url``.
            json_body: The request body.

        Returns:
            The decoded JSON object (``{}`` for an empty answer).

        Raises:
            CalendlyApiError: A subclass matching Calendly's refusal.
        """
        return self._request("POST", self._resolve(path), {}, json_body)

    def delete(self, path_or_url: str) -> dict[str, Any]:
        """DELETE a resource (a path, or its full URI on the same host).

        Returns:
            The decoded JSON answer, ``{}`` for Calendly's usual 204.

        Raises:
            CalendlyApiError: A subclass matching Calendly's refusal.
        """
        return self._request("DELETE", self._resolve(path_or_url), {})

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``collection`` of a list (see :func:`paging.paginate`)."""
        return paginate(self.get, path, params)

    def read_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, what: str
    ) -> list[dict[str, Any]]:
        """Every row of a list, restarted when a page token expires (``paging.read_all``)."""
        return read_all(self.get, path, params, what=what)

    def map_concurrently(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Apply ``fn`` to every item, ``max_concurrency`` at a time, in input order.

        See :meth:`concurrency.WorkerPool.map_in_order` (the client's one pool,
        :attr:`pool`); an interrupt cancels the client first, so workers waiting
        for the rate limiter or a retry stop at once.
        """
        return self.pool.map_in_order(fn, items)

    def cancel(self) -> None:
        """Stop: wake every thread waiting for the rate limiter or a retry, send nothing more.

        The waiting threads, and every later request, raise ``RequestCancelled``
        (a ``KeyboardInterrupt``). A request already on the wire completes.
        Safe to call from a signal handler or another thread.
        """
        self.cancelled.set()
        self.rate_limiter.cancelled.set()
        canceller = getattr(self.auth, "cancel", None)
        if callable(canceller):
            canceller()

    def close(self) -> None:
        """Cancel what still waits, close the pooled connections (and the authenticator's)."""
        self.cancel()
        self.pool.shutdown()
        self._http.close()
        closer = getattr(self.auth, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> CalendlyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _resolve(self, path_or_url: str) -> str:
        if not path_or_url.startswith(("http://", "https://")):
            return "/" + path_or_url.lstrip("/")
        if _origin(path_or_url) != self._origin:
            raise CalendlyApiError(
                None,
                "Foreign URL",
                "refusing to send the token to a host other than base_url",
                advice="check base_url; next_page links must point at the same host",
                url=path_or_url,
            )
        return path_or_url

    def _count(self, what: str = "sent") -> None:
        with self._count_lock:
            setattr(self.counters, what, getattr(self.counters, what) + 1)

    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any],
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        what = f"{method} {path_of(url)}"
        refreshed = False
        failures = 0
        rate_limited: list[float] = []  # when each 429 of this request arrived
        while True:
            header = self.auth.authorization()
            sent = self._send(method, url, params, json_body, header)
            if isinstance(sent, httpx.Response):
                body = answer_body(method, sent, self.base_url)
                if body is not None:
                    return body
                if sent.status_code == 401 and not refreshed:
                    refreshed = True
                    if self.auth.refresh_after_401(header):
                        logger.info("%s: 401, retrying with a refreshed access token", what)
                        continue
            retryable = retryable_error(sent, header, url)
            if retryable is None:
                assert isinstance(sent, httpx.Response)  # transport errors are retryable
                raise refusal(sent, header, self.auth)
            if isinstance(sent, httpx.Response) and sent.status_code == 429:
                rate_limited.append(self._clock())
                self._count("rate_limited")
                limit = self.rate_limiter
                wait_out_rate_limit(limit, what, sent, rate_limited, self.rate_limit_wait)
                continue
            failures += 1
            self._count("retries")
            status = sent.status_code if isinstance(sent, httpx.Response) else None
            self._retry_or_raise(failures, what, status, retryable)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any],
        json_body: Mapping[str, Any] | None,
        header: str,
    ) -> httpx.Response | httpx.TransportError:
        """One request, once the limiter allows it; a connection failure is returned."""
        self.rate_limiter.acquire()
        if self.cancelled.is_set():
            raise RequestCancelled
        self._count()
        try:
            response = self._http.request(
                method, url, params=params or None, json=json_body,
                headers={"Authorization": header},
            )  # fmt: skip
        except httpx.TransportError as error:
            return error
        self.rate_limiter.observe(response.headers)
        return response

    def _retry_or_raise(
        self, failures: int, what: str, status: int | None, error: CalendlyApiError
    ) -> None:
        if failures > self.max_retries:
            logger.warning("%s %s: giving up after %d retries", what, error.title, self.max_retries)
            raise exhausted(error, self.max_retries)
        delay = jittered_backoff(failures, self.backoff_base, self.backoff_max)
        logger.warning(
            "%s failed (%s); retry %d/%d in %.2f s",
            what,
            status or error.title,
            failures,
            self.max_retries,
            delay,
        )
        wait_unless_cancelled(delay, self.cancelled, self._sleep)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
