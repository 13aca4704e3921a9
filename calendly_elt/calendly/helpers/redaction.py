"""Redaction: what may leave the process in a message or a log.

Text that comes from the network or from an exception passes through
:func:`redact` before an error stores it; URLs are reduced to their path
(:func:`path_of`), since query strings carry e-mail addresses and page tokens.
A secret that an HTTP header cannot carry is refused before it is sent
(:func:`secret_problem` says why without quoting it).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from calendly_elt.errors import scrub


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask anything that looks like a token in ``text``.

    Args:
        text: Text that may come from the network or an exception.
        secrets: Exact values to mask as well (e.g. the token just sent).

    Returns:
        The text with the given secrets, bearer tokens, ``*_token=`` /
        ``client_secret=`` values and JWT-looking strings replaced by ``***``.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return scrub(text)


def path_of(url: str | httpx.URL) -> str:
    """The path of a URL, without scheme, host or query (which may carry secrets)."""
    return urlsplit(str(url)).path or "/"


def secret_problem(value: str) -> str:
    """What makes ``value`` unusable in a header, or ``""`` (never quotes the value)."""
    if any(char in "\r\n" for char in value):
        return "contains a line break"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "contains a control character"
    if any(not char.isascii() for char in value):
        return "contains a non-ASCII character"
    if value != value.strip():
        return "starts or ends with a space"
    if any(char.isspace() for char in value):
        return "contains a space"
    return ""
