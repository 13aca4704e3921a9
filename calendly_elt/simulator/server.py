"""The simulator facade: one object that answers HTTP like api.calendly.com.

``Simulator`` stacks the layers a real request meets - injected faults,
authentication (``auth``), the per-user rate limit (``rate_limit``), then the
routes (``api``) - and offers two ways in: an in-process httpx transport for
tests (``transport()`` / ``async_transport()``), and a real HTTP server on
127.0.0.1 in a daemon thread (``serve()``). ``stats`` counts requests per
route template, which is how tests measure how many calls a pipeline spends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx

from calendly_elt.simulator.api import (
    ApiHandler,
    SimRequest,
    SimResponse,
    error_response,
    json_response,
    match_route,
)
from calendly_elt.simulator.auth import OAUTH_PATHS, AuthService
from calendly_elt.simulator.faults import Fault, FaultConfig, FaultInjector
from calendly_elt.simulator.pagination import PageTokens
from calendly_elt.simulator.rate_limit import (
    DEFAULT_REQUESTS_PER_MINUTE,
    RateDecision,
    RateLimiter,
    too_many_requests,
)
from calendly_elt.simulator.store import SimClock, SimulatorError, Store
from calendly_elt.simulator.transports import AsyncSimTransport, SimTransport, handler_class

if TYPE_CHECKING:
    from calendly_elt.simulator.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
_SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: (
        "Internal Server Error",
        "The server encountered an unexpected condition that prevented it from "
        "fulfilling the request.",
    ),
    502: ("Bad Gateway", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    503: ("Service Unavailable", "<html><body><h1>503 Service Unavailable</h1></body></html>"),
}


@dataclass
class SimConfig:
    """Knobs of a simulator run.

    Attributes:
        requests_per_minute: per-user API limit (500 on paid plans, 50 on free).
        page_token_ttl: simulated time after which a page token is refused.
        faults: injected faults (all off by default).
        monotonic: seconds clock of the rate-limit windows (inject to step time).
        apply_delays: sleep for injected latency (switch off to only record it).
        deliver_webhooks: POST signed webhooks to the subscriptions created through
            the API whenever a mutation happens (``Simulator.webhooks``), from a
            sender thread outside the store lock (``Simulator.webhooks.flush()`` waits).
    """

    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    page_token_ttl: timedelta = timedelta(minutes=10)
    faults: FaultConfig = field(default_factory=FaultConfig)
    monotonic: Callable[[], float] = time.monotonic
    apply_delays: bool = True
    deliver_webhooks: bool = False


class SimStats:
    """Thread-safe request counts per route template (``"GET /users/me"``)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, label: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[label] += 1

    @property
    def by_route(self) -> dict[str, int]:
        """A snapshot of the counts per route template."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        """All requests received."""
        with self._lock:
            return sum(self._counts.values())

    def __getitem__(self, label: str) -> int:
        with self._lock:
            return self._counts[label]

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts.clear()


class Simulator:
    """A simulated Calendly API over a ``Store``.

    Args:
        store: the organization to serve (e.g. from ``generate_organization``).
        config: rate limit, token TTL, faults; defaults when omitted.
    """

    def __init__(self, store: Store, config: SimConfig | None = None) -> None:
        self.store = store
        self.config = config or SimConfig()
        self.stats = SimStats()
        self.tokens = PageTokens(store.clock.now, self.config.page_token_ttl)
        self.api = ApiHandler(store, self.tokens)
        self.auth = AuthService(store, self.config.monotonic)
        self.rate_limiter = RateLimiter(self.config.requests_per_minute, self.config.monotonic)
        self.faults = FaultInjector(self.config.faults)
        self.webhooks: WebhookDispatcher | None = None
        if self.config.deliver_webhooks:
            from calendly_elt.simulator.webhooks import WebhookDispatcher

            self.webhooks = WebhookDispatcher(store, background=True)

    @property
    def clock(self) -> SimClock:
        """The simulated clock (advance it to expire tokens)."""
        return self.store.clock

    @property
    def admin_token(self) -> str:
        """Personal access token of an organization owner/admin."""
        return self.store.admin_token

    @property
    def member_token(self) -> str:
        """Personal access token of a plain member."""
        return self.store.member_token

    def register_oauth_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """Register an OAuth application for ``/oauth/authorize`` and ``/oauth/token``."""
        self.auth.register_client(client_id, client_secret, redirect_uri)

    def issue_oauth_tokens(
        self, user_uuid: str, client_id: str, scopes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Mint OAuth tokens for a user without the browser step (a token response dict).

        ``scopes`` is the granted list; None issues a legacy token with full access.
        """
        return self.auth.issue_tokens(user_uuid, client_id, scopes)

    def create_personal_access_token(
        self, user_uuid: str | None = None, scopes: Iterable[str] | None = None
    ) -> str:
        """A new personal access token (default: the admin's) with ``scopes``.

        ``scopes=None`` makes a legacy token with full access, like ``admin_token``.
        """
        owner = user_uuid or self.store.personal_access_tokens[self.store.admin_token]
        return self.auth.create_personal_access_token(owner, scopes)

    # ---- the request pipeline ----------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request: faults, then auth, then rate limit, then the route.

        A bug of the simulator answers 500 with Calendly's body (and a logged
        traceback) rather than a closed connection that looks like a fault.
        """
        self.stats.record(_route_label(request))
        fault = self.faults.next_fault()
        if fault.drop:
            return SimResponse(0, drop=True, delay_seconds=fault.delay_seconds)
        try:
            if request.path.rstrip("/") in OAUTH_PATHS:
                response, decision = self._oauth(request, fault)
            else:
                response, decision = self._api(request, fault)
        except Exception:
            logger.exception("simulator error on %s %s", request.method, request.path)
            return _fault_response(Fault(status=500), self.config.faults)
        response.headers.update(decision.headers())
        response.delay_seconds = fault.delay_seconds
        return response

    def _oauth(self, request: SimRequest, fault: Fault) -> tuple[SimResponse, RateDecision]:
        decision = self.rate_limiter.peek(ANONYMOUS)
        if not fault.is_clean:
            if fault.status == 429:  # a burst announces its own reset, as on the API routes
                decision = _burst_decision(decision, self.config.faults)
            return _fault_response(fault, self.config.faults), decision
        return self.auth.handle_oauth(request), decision

    def _api(self, request: SimRequest, fault: Fault) -> tuple[SimResponse, RateDecision]:
        try:
            caller = self.auth.identify(request)
        except SimulatorError as error:
            return error_response(error), self.rate_limiter.peek(ANONYMOUS)
        user_uuid = caller.user_uuid
        if not fault.is_clean:
            decision = self.rate_limiter.peek(user_uuid)
            if fault.status == 429:
                decision = _burst_decision(decision, self.config.faults)
            return _fault_response(fault, self.config.faults), decision
        decision = self.rate_limiter.hit(user_uuid)
        if not decision.allowed:
            return error_response(too_many_requests()), decision
        return self.api.handle(request, user_uuid, caller.scopes), decision

    # ---- ways in -------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An in-process httpx transport (``httpx.Client(transport=sim.transport())``)."""
        return SimTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """The same as ``transport`` for ``httpx.AsyncClient``."""
        return AsyncSimTransport(self)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over real HTTP in a daemon thread; yields the base URL.

        Args:
            host: interface to bind (keep 127.0.0.1 in tests).
            port: TCP port; 0 picks a free one.
        """
        server = ThreadingHTTPServer((host, port), handler_class(self))
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        thread.start()
        bound_host, bound_port = server.server_address[:2]
        base_url = f"http://{_url_host(str(bound_host))}:{bound_port}"
        stop_retries = self._start_webhook_retries()
        logger.info("simulator serving on %s", base_url)
        try:
            yield base_url
        finally:
            stop_retries.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def _start_webhook_retries(self, every_seconds: float = 1.0) -> threading.Event:
        """Retry failed webhook deliveries in the background while serving."""
        stop = threading.Event()
        dispatcher = self.webhooks
        if dispatcher is None:
            return stop

        def retry_loop() -> None:
            while not stop.wait(every_seconds):
                dispatcher.retry_due()

        threading.Thread(target=retry_loop, name="webhook-retries", daemon=True).start()
        return stop


def _route_label(request: SimRequest) -> str:
    if request.path.rstrip("/") in OAUTH_PATHS:
        return f"{request.method} {request.path.rstrip('/')}"
    matched = match_route(request.method, request.path)
    return matched[0].label if matched else f"{request.method} (unknown route)"


def _burst_decision(decision: RateDecision, faults: FaultConfig) -> RateDecision:
    return RateDecision(False, decision.limit, 0, faults.burst_reset_seconds)


def _fault_response(fault: Fault, faults: FaultConfig) -> SimResponse:
    """The response an injected 429 or 5xx gets (502/503 come as HTML, like a proxy)."""
    if fault.status == 429:
        return error_response(too_many_requests())
    status = fault.status or 500
    title, message = _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
    if message.startswith("<html>"):
        return SimResponse(status, {"Content-Type": "text/html"}, message.encode())
    return json_response(status, {"title": title, "message": message})


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
