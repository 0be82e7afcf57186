"""Structured JSON logs; every line carries the correlation id of the message being handled."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Accept tokens must never reach a log line, whatever logs them (a library, a traceback).
_TOKEN_PATTERNS = (
    re.compile(r"(token=)[A-Za-z0-9_\-%]+"),
    re.compile(r'("(?:accept_)?token"\s*:\s*")[^"]*(")'),
    re.compile(r"('(?:accept_)?token'\s*:\s*')[^']*(')"),
)


def redact(text: str) -> str:
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


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
