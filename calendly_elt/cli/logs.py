"""What the command line writes on stderr: log lines as text or JSON, errors, progress.

``--log-format json`` makes every line on stderr one JSON object: ``ts``
(UTC, ISO 8601), ``level``, ``logger``, ``message``, plus a record's extra
fields (``logger.info("...", extra={"windows": 3})``); the final error line
and the progress lines too, so a log shipper can parse all of stderr.
``--log-format text`` (the default) keeps the ``time level logger: message``
lines and the ``error: ...`` line. Either way messages pass through
:func:`~calendly_elt.errors.scrub`: a token-looking string never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from calendly_elt.errors import scrub

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# what every LogRecord carries; anything else on a record is an extra field
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_settings = {"format": "text", "quiet": False}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            document["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(document, default=str)


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(level: int, log_format: str = "text", *, quiet: bool = False) -> None:
    """Send log records of ``level`` and above to stderr in ``log_format``.

    Text is ``logging.basicConfig``'s way (nothing changes where the process
    configured logging already, e.g. under pytest); JSON puts its own handler
    on the root logger. A second call replaces what the first one added.
    """
    _settings["format"], _settings["quiet"] = log_format, quiet
    root = logging.getLogger()
    for old in [handler for handler in root.handlers if getattr(handler, _OURS, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _OURS, True)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
    else:
        handler.setFormatter(_ScrubbingFormatter(TEXT_FORMAT))
        logging.basicConfig(level=level, handlers=[handler])


_OURS = "_calendly_elt_handler"


def is_json() -> bool:
    """Whether stderr carries JSON lines (``--log-format json``)."""
    return _settings["format"] == "json"


def is_quiet() -> bool:
    """Whether ``--quiet`` asked for errors only."""
    return bool(_settings["quiet"])


def json_line(level: str, logger: str, message: str, **fields: Any) -> str:
    """A line shaped like :class:`JsonFormatter`'s, for what is not a log record."""
    document = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": scrub(message),
        **fields,
    }
    return json.dumps(document, default=str)


def print_error(message: str, **fields: Any) -> None:
    """The command's one error line on stderr: ``error: ...`` or a JSON object."""
    if is_json():
        print(json_line("ERROR", "calendly_elt.cli", message, **fields), file=sys.stderr)
    else:
        print(f"error: {message}", file=sys.stderr)
