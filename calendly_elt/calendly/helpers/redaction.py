"""Redaction: what may leave the process in a message or a log.

Text that comes from the network or from an exception passes through
:func:`redact` before an error stores it; URLs are reduced to their path
(:func:`path_of`), since query strings carry e-mail addresses and page tokens.
A secret that an HTTP header cannot carry is refused before it is sent
(:func:`secret_problem` says why without quoting it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|page_token)[\"']?\s*[=:]\s*[\"']?)"
        r"[A-Za-z0-9._~+/=-]+"
    ),
    # JWT-looking strings (Calendly's PATs and access tokens are JWTs).
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)


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
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda match: match.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


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
