"""The signing-key store: one signing key per webhook subscription, in a 0600 file.

``webhooks subscribe`` generates a key, records it here *before* creating the
subscription (so a delivery that arrives at once can be verified), then adds
the subscription's URI; ``webhooks delete`` forgets it; ``webhooks serve``
accepts a delivery signed by any key in the store. The file lives beside the
OAuth token store (``.dlt/``, git-ignored) and is replaced atomically. The
environment variable ``CALENDLY_WEBHOOK_SECRET`` (the name Calendly's guides
use) overrides the store for ``serve``. Keys never appear in ``repr``, logs or
error messages.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calendly_elt.webhooks.errors import SigningKeyStoreError

DEFAULT_KEY_STORE_PATH = Path(".dlt/calendly.webhook-keys.json")
SECRET_ENV = "CALENDLY_WEBHOOK_SECRET"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningKey:
    """One subscription's signing key.

    Attributes:
        callback_url: The URL Calendly delivers to.
        signing_key: The HMAC key (never shown).
        subscription_uri: The subscription, once Calendly created it.
        created_at: When the key was generated (ISO, UTC).
    """

    callback_url: str
    signing_key: str = field(repr=False)
    subscription_uri: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class SigningKeyStore:
    """A JSON file of ``SigningKey`` entries, written 0600 and replaced atomically.

    Args:
        path: The file (its folder is created on the first write).
    """

    def __init__(self, path: Path = DEFAULT_KEY_STORE_PATH) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"SigningKeyStore({str(self.path)!r})"

    def entries(self) -> list[SigningKey]:
        """Every stored key, oldest first (none when the file does not exist)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise SigningKeyStoreError(
                f"cannot read the webhook key store {self.path}: {type(error).__name__}"
            ) from None
        return [_entry(item, self.path) for item in _items(raw, self.path)]

    def signing_keys(self) -> list[str]:
        """The keys ``serve`` accepts (the newest first)."""
        return [entry.signing_key for entry in reversed(self.entries())]

    def add(self, entry: SigningKey) -> None:
        """Store a new key."""
        self._write([*self.entries(), entry])

    def attach(self, entry: SigningKey, subscription_uri: str) -> SigningKey:
        """Record the subscription ``entry``'s key belongs to; returns the stored entry."""
        attached = replace(entry, subscription_uri=subscription_uri)
        self._write([attached if _same(item, entry) else item for item in self.entries()])
        return attached

    def discard(self, entry: SigningKey) -> None:
        """Forget a key (e.g. the subscription could not be created)."""
        self._write([item for item in self.entries() if not _same(item, entry)])

    def forget_subscription(self, subscription_uri: str) -> bool:
        """Forget the key of a deleted subscription; True if one was stored."""
        entries = self.entries()
        kept = [item for item in entries if item.subscription_uri != subscription_uri]
        if len(kept) != len(entries):
            self._write(kept)
        return len(kept) != len(entries)

    def _write(self, entries: list[SigningKey]) -> None:
        payload = json.dumps({"signing_keys": [asdict(item) for item in entries]}, indent=2)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise SigningKeyStoreError(
                f"cannot write the webhook key store {self.path}: {error.strerror}"
            ) from None


def _same(left: SigningKey, right: SigningKey) -> bool:
    return left.signing_key == right.signing_key and left.created_at == right.created_at


def _items(raw: Any, path: Path) -> list[Any]:
    items = raw.get("signing_keys") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise SigningKeyStoreError(f"the webhook key store {path} is not a key store file")
    return items


def _entry(item: Any, path: Path) -> SigningKey:
    if not isinstance(item, dict) or not isinstance(item.get("signing_key"), str):
        raise SigningKeyStoreError(f"the webhook key store {path} has an invalid entry")
    return SigningKey(
        callback_url=str(item.get("callback_url") or ""),
        signing_key=item["signing_key"],
        subscription_uri=item.get("subscription_uri"),
        created_at=str(item.get("created_at") or ""),
    )


def receiver_keys(store: SigningKeyStore) -> Callable[[], list[str]]:
    """The keys the receiver verifies with: ``CALENDLY_WEBHOOK_SECRET`` if set, else the store.

    The store is re-read whenever its file changes, so a ``webhooks subscribe``
    made while the receiver runs is verified without a restart.

    Returns:
        A function returning the current keys.

    Raises:
        SigningKeyStoreError: No key is configured, or the store is unreadable.
    """
    secret = os.environ.get(SECRET_ENV, "").strip()
    if secret:
        return lambda: [secret]
    keys = _ReloadingKeys(store)
    if not keys():
        raise SigningKeyStoreError(
            f"no webhook signing key: run `calendly-elt webhooks subscribe` (it stores one in "
            f"{store.path}) or set {SECRET_ENV}"
        )
    return keys


class _ReloadingKeys:
    """The store's keys, re-read when the file's modification time or size changes."""

    def __init__(self, store: SigningKeyStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._keys: list[str] = []

    def __call__(self) -> list[str]:
        try:
            info = self._store.path.stat()
            version = (info.st_mtime_ns, info.st_size)
        except OSError:
            return self._keys  # the file went away: keep verifying with what we had
        with self._lock:
            if version != self._seen:
                try:
                    self._keys = self._store.signing_keys() or self._keys
                except SigningKeyStoreError:
                    logger.warning("the webhook key store is unreadable; keeping the keys loaded")
                self._seen = version
            return self._keys
