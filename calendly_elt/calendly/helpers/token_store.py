"""The OAuth token store: a 0600 JSON file, replaced atomically, locked across processes.

Calendly's refresh tokens are single-use, so the rotated one must be on disk
before anything else happens (see ``auth.py``). This module only keeps the
file: atomic writes, a cross-process lock and a writability probe.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from calendly_elt.calendly.helpers.errors import TokenStoreError
from calendly_elt.errors import ConfigError

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger(__name__)


class TokenStore:
    """OAuth tokens persisted in a JSON file readable by its owner only (0600).

    ``save`` writes a temporary file in the same folder, fsyncs it and renames
    it over the store (``os.replace`` is atomic), so a crash leaves either the
    old or the new tokens, never a torn file. ``locked`` holds an exclusive
    ``flock`` on the sibling ``<name>.lock`` file, which stays in place (removing
    it would let two processes lock two different files).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def check_writable(self) -> None:
        """Prove ``save`` can work: create the folder, write and remove a 0600 temp file there.

        Called before the first token request: a refresh rotates the refresh
        token, so finding out only when saving the rotated one would cost the
        authorization.

        Raises:
            ConfigError: The folder cannot be created or written, or the path is a folder.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            handle, tmp_name = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".probe"
            )
            try:
                os.fchmod(handle, 0o600)
                os.write(handle, b"{}")
            finally:
                os.close(handle)
                os.unlink(tmp_name)
        except OSError as error:
            raise ConfigError(
                f"cannot write the OAuth token store {self.path} ({error.strerror or error}): "
                "set token_store_path (SOURCES__CALENDLY__TOKEN_STORE_PATH) to a file in a "
                "writable folder; the refresh token was not used and is still valid"
            ) from error

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock shared with every process using this store.

        Raises:
            TokenStoreError: The lock file cannot be opened.
        """
        if sys.platform == "win32":  # no flock; one process per store there
            yield
            return
        try:
            handle = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise TokenStoreError(
                f"cannot open the OAuth token store lock {self.lock_path}: {error.strerror}"
            ) from error
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("waiting for another process refreshing the OAuth token")
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)  # releases the lock

    def load(self) -> dict[str, Any] | None:
        """Read the stored tokens.

        Returns:
            The stored mapping, or None if the file does not exist.

        Raises:
            TokenStoreError: The file exists but cannot be read or is not a JSON object.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise TokenStoreError(
                f"cannot read the OAuth token store {self.path}: {error.strerror}"
            ) from error
        self._tighten_permissions()
        try:
            tokens = json.loads(text)
        except ValueError as error:
            raise TokenStoreError(
                f"the OAuth token store {self.path} is not valid JSON; delete it and set the "
                "latest refresh token in CALENDLY_REFRESH_TOKEN"
            ) from error
        if not isinstance(tokens, dict):
            raise TokenStoreError(f"the OAuth token store {self.path} does not hold a JSON object")
        return tokens

    def save(self, tokens: dict[str, Any]) -> None:
        """Write ``tokens`` atomically (tmp file + fsync + ``os.replace``), mode 0600.

        Raises:
            TokenStoreError: The file cannot be written.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomically(json.dumps(tokens, indent=2, sort_keys=True))
        except OSError as error:
            raise TokenStoreError(
                f"cannot write the OAuth token store {self.path}: {error.strerror}"
            ) from error

    def _write_atomically(self, text: str) -> None:
        handle, tmp_name = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_directory(self.path.parent)

    def _tighten_permissions(self) -> None:
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("token store %s was readable by others; setting mode 0600", self.path)
            os.chmod(self.path, 0o600)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); silently skipped where directories cannot be opened."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
