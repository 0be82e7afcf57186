"""Structured JSON logs; every line carries the correlation id of the message being handled."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Accept tokens must never reach a log line, whatever logs them (a library, a traceback).
_TOKEN_PATTERNS = (
    re.compile(r"(token=)[A-Za-z0-9_\-%]+"),
    re.compile(r'("(?:accept_)?token"\s*:\s*")[^"]*(")'),
    re.compile(r"('(?:accept_)?token'\s*:\s*')[^']*(')"),
)


def redact(text: str) -> str:
    if "token" not in text:  # every pattern holds the word: most lines skip the three regexes
        return text
    text = _TOKEN_PATTERNS[0].sub(r"\1[redacted]", text)
    for pattern in _TOKEN_PATTERNS[1:]:
        text = pattern.sub(r"\1[redacted]\2", text)
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlationid"] = cid
        for key in ("event_type", "event_id", "topic", "accountid"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def configure(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Every logger's lines as JSON to `stream` (standard error)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # FastStream gives its "faststream" logger a coloured handler of its own when imported and
    # stops it from propagating: its lines (partitions assigned, per-message lines at DEBUG)
    # come out as JSON like every other line only through the root handler.
    import faststream._internal.logger.logging  # noqa: F401 - creates that logger first

    framework = logging.getLogger("faststream")
    framework.handlers.clear()
    framework.propagate = True
    framework.setLevel(logging.NOTSET)  # LOG_LEVEL decides, as for every other logger
