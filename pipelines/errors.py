"""The one exception family of calendly-elt.

Every error a user can cause or fix (bad config, bad input, an API refusal, a
failed model build) is a ``CalendlyEltError`` with a message that says what
went wrong and what to do. The CLI turns these into one line on stderr and a
non-zero exit; anything else is a bug and shows a traceback with ``--debug``.
Messages must never contain secrets.
"""

from __future__ import annotations


class CalendlyEltError(Exception):
    """Base of every expected, user-facing failure."""

    exit_code = 1


class ConfigError(CalendlyEltError):
    """Missing or invalid configuration or command-line input."""

    exit_code = 2
