"""Ctrl-C and SIGTERM: stop a command at once, with one line and exit 130."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from calendly_elt.errors import INTERRUPTED, RunInterruptedError, interrupt_in

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(message: str = INTERRUPTED) -> Iterator[threading.Event]:
    """Make Ctrl-C and SIGTERM stop the run at once, ending in ``RunInterruptedError``.

    The handler sets the yielded event, which every rate-limit and retry wait of
    the client is taken on (worker threads waiting up to a minute wake at once),
    then raises ``KeyboardInterrupt`` in the main thread. dlt wraps that in its
    own exception (and intercepts the signals itself while normalizing and
    loading, raising a ``KeyboardInterrupt`` subclass later), so the whole
    exception chain is searched for it.
    """
    cancel = threading.Event()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        cancel.set()
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield cancel
    except BaseException as error:
        if interrupt_in(error) is None:
            raise
        raise RunInterruptedError(message) from error
    finally:
        for number, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(number, handler)
