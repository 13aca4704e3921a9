"""Keyset paging with opaque, expiring page tokens, as the Calendly API pages lists.

A list endpoint sorts its rows by ``(sort value, uri)`` - the uri breaks ties, so
the order is total and stable - and cuts pages of ``count`` rows. A page token
is an opaque id (an HMAC of a counter, not an offset) of a stored cursor: the key
of the row just before the next page (or after the previous one), the filters it
belongs to, and the simulated instant it was issued at. Resuming from a key, not
an offset, returns every row exactly once even while rows are added or removed.
Tokens older than ``ttl`` of simulated time are refused with a 400, as the real
API refuses stale tokens.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from calendly_elt.simulator.store import Resource, SimulatorError

DEFAULT_COUNT = 20
MAX_COUNT = 100
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN_LENGTH = 32

SortKey = tuple[Any, str]


def invalid_argument(parameter: str, message: str) -> SimulatorError:
    """Calendly's 400 for a bad query parameter."""
    return SimulatorError(
        400,
        "Invalid Argument",
        "The supplied parameters are invalid.",
        [{"parameter": parameter, "message": message}],
    )


def parse_count(raw: str | None) -> int:
    """Validate the ``count`` parameter (1-100, default 20) or raise a 400."""
    if raw is None:
        return DEFAULT_COUNT
    try:
        count = int(raw)
    except ValueError:
        raise invalid_argument("count", "must be an integer") from None
    if count < 1:
        raise invalid_argument("count", "must be greater than or equal to 1")
    if count > MAX_COUNT:
        raise invalid_argument("count", f"must be less than or equal to {MAX_COUNT}")
    return count


@dataclass(frozen=True)
class Cursor:
    """What a page token stands for."""

    key: SortKey
    forward: bool
    fingerprint: str
    issued_at: datetime


@dataclass(frozen=True)
class Page:
    """One page of a list response, ready to serialise."""

    collection: list[Resource]
    pagination: Resource

    def body(self) -> Resource:
        """The ``{"collection", "pagination"}`` response body."""
        return {"collection": self.collection, "pagination": self.pagination}


PRUNE_EVERY = 1000  # tokens issued between two clean-ups
FORGET_AFTER = timedelta(days=1)  # older tokens answer "is invalid" instead of "has expired"


class PageTokens:
    """Issues and resolves opaque page tokens; thread-safe and deterministic.

    Args:
        now: the simulated clock (``SimClock.now``).
        ttl: how long a token stays valid, in simulated time.
        secret: HMAC key of the token ids (fixed, so two fresh simulators issue
            byte-identical tokens).
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        ttl: timedelta = timedelta(minutes=10),
        secret: bytes = b"calendly-elt-simulator",
    ) -> None:
        self._now = now
        self.ttl = ttl
        self._secret = secret
        self._cursors: dict[str, Cursor] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def issue(self, key: SortKey, forward: bool, fingerprint: str) -> str:
        """Store a cursor and return its opaque token."""
        with self._lock:
            self._counter += 1
            token = self._token_text(self._counter)
            now = self._now()
            self._cursors[token] = Cursor(key, forward, fingerprint, now)
            if self._counter % PRUNE_EVERY == 0:
                self._forget_issued_before(now - max(self.ttl, FORGET_AFTER))
        return token

    def _forget_issued_before(self, moment: datetime) -> None:
        """Drop long-dead cursors (oldest first) so a long-running server stays small."""
        while self._cursors:
            oldest = next(iter(self._cursors))
            if self._cursors[oldest].issued_at >= moment:
                return
            del self._cursors[oldest]

    def resolve(self, token: str, fingerprint: str) -> Cursor:
        """The cursor of ``token``, or a 400 when it is unknown, foreign or expired."""
        with self._lock:
            cursor = self._cursors.get(token)
        if cursor is None or cursor.fingerprint != fingerprint:
            raise invalid_argument("page_token", "is invalid")
        if self._now() - cursor.issued_at > self.ttl:
            raise invalid_argument("page_token", "has expired; restart from the first page")
        return cursor

    def _token_text(self, counter: int) -> str:
        digest = hmac.new(self._secret, str(counter).encode(), hashlib.sha256).digest()
        return "".join(_TOKEN_ALPHABET[byte % len(_TOKEN_ALPHABET)] for byte in digest)[
            :_TOKEN_LENGTH
        ]


@dataclass(frozen=True)
class ListRequest:
    """The paging-relevant parts of a list request."""

    base_url: str
    path: str
    query: Sequence[tuple[str, str]]
    count: int
    page_token: str | None

    def fingerprint(self) -> str:
        """Identity of the filtered list a token belongs to (every param but paging)."""
        params: dict[str, str] = {}
        for key, value in self.query:
            if key not in ("count", "page_token"):
                params.setdefault(key, value)  # the handler reads the first value too
        return f"{self.path}?{urlencode(sorted(params.items()))}"

    def link(self, token: str) -> str:
        """Full URL of another page: every query parameter, the count, the token."""
        params = [(k, v) for k, v in self.query if k not in ("count", "page_token")]
        params += [("count", str(self.count)), ("page_token", token)]
        return f"{self.base_url}{self.path}?{urlencode(params)}"


Scan = Callable[[SortKey | None, bool], Iterator[tuple[SortKey, Resource]]]
"""``scan(key, backwards)``: rows with their keys, in list order strictly after ``key``
(from the start when None); with ``backwards``, in reverse list order strictly before it."""


def paginate(scan: Scan, request: ListRequest, tokens: PageTokens) -> Page:
    """Cut one page out of the list ``scan`` walks, reading only what the page needs."""
    fingerprint = request.fingerprint()
    cursor = tokens.resolve(request.page_token, fingerprint) if request.page_token else None
    if cursor is None or cursor.forward:
        taken = list(islice(scan(cursor.key if cursor else None, False), request.count + 1))
        page, has_next = taken[: request.count], len(taken) > request.count
        has_previous = bool(page) and cursor is not None and _any(scan(page[0][0], True))
    else:
        taken = list(islice(scan(cursor.key, True), request.count + 1))
        page, has_previous = taken[: request.count][::-1], len(taken) > request.count
        has_next = bool(page) and _any(scan(page[-1][0], False))
    next_token = tokens.issue(page[-1][0], True, fingerprint) if has_next else None
    previous_token = tokens.issue(page[0][0], False, fingerprint) if has_previous else None
    pagination = {
        "count": len(page),
        "next_page": request.link(next_token) if next_token else None,
        "previous_page": request.link(previous_token) if previous_token else None,
        "next_page_token": next_token,
        "previous_page_token": previous_token,
    }
    return Page([row for _, row in page], pagination)


def sorted_scan(keyed: Sequence[tuple[SortKey, Resource]], descending: bool) -> Scan:
    """A ``Scan`` over rows already in list order (keys ascending, or descending)."""
    keys = [key for key, _ in keyed]

    def scan(key: SortKey | None, backwards: bool) -> Iterator[tuple[SortKey, Resource]]:
        if backwards:
            end = len(keyed) if key is None else _position_before(keys, key, descending)
            return reversed(keyed[:end])
        start = 0 if key is None else _position_after(keys, key, descending)
        return iter(keyed[start:])

    return scan


def _any(rows: Iterator[tuple[SortKey, Resource]]) -> bool:
    return next(rows, None) is not None


def _position_after(keys: Sequence[SortKey], key: SortKey, descending: bool) -> int:
    """Index of the first row strictly after ``key`` in the list's order."""
    if not descending:
        return bisect.bisect_right(keys, key)
    return len(keys) - bisect.bisect_left(_Reversed(keys), key)


def _position_before(keys: Sequence[SortKey], key: SortKey, descending: bool) -> int:
    """Number of rows strictly before ``key`` in the list's order."""
    if not descending:
        return bisect.bisect_left(keys, key)
    return len(keys) - bisect.bisect_right(_Reversed(keys), key)


class _Reversed(Sequence[SortKey]):
    """An ascending view of a descending key list, for ``bisect``."""

    def __init__(self, keys: Sequence[SortKey]) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index: int) -> SortKey:  # type: ignore[override]
        return self._keys[len(self._keys) - 1 - index]
