"""Structured logs: one JSON object per line, the same in every PalmGrid process.

Every record carries time (UTC), level, logger and message, the fields passed in
`extra=`, the current trace and span ids when a span is active (OpenTelemetry), and
whatever the process's `context` callable adds (the services' request id, method and
user; the edge's request id and user). Values of fields whose names suggest secrets
(password, token, ...) are replaced, so a careless `extra=` cannot leak them.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

__all__ = ["REDACTED", "JsonFormatter", "LogContext", "configure_json_logging"]

# Fields for the current record from the process's own notion of "the current request".
LogContext = Callable[[], dict[str, Any]]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_WORDS = ("password", "secret", "token", "authorization", "captcha", "private", "key")
REDACTED = "[redacted]"


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS) and lowered not in {
        "key_id",
        "request_id",
    }


def _no_context() -> dict[str, Any]:
    return {}


class JsonFormatter(logging.Formatter):
    """Formats records as JSON lines; `context` adds the current request's fields."""

    def __init__(self, context: LogContext | None = None) -> None:
        super().__init__()
        self._context = context or _no_context

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        entry.update(self._context())
        for name, value in record.__dict__.items():
            if name in _STANDARD or name.startswith("_"):
                continue
            entry[name] = REDACTED if _is_secret(name) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logging(
    level: str = "INFO", stream: IO[str] | None = None, context: LogContext | None = None
) -> None:
    """Send every logger's records to `stream` (stderr) as JSON lines at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(context))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
