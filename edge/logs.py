"""The edge's structured logs: palmlib's JSON lines with the current request's fields.

Every record written while a request is served carries its request id, the trace id
(palmlib adds it) and, once the session is known, the user (`users/…`); never the
token, the body or an envelope. One `request` line per request goes to `edge.access`
(method, route template, status, duration) at INFO: raise that logger's level to
silence it.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

from edge.pipeline import Exchange
from palmlib.jsonlogs import configure_json_logging

__all__ = ["ServedRequest", "configure_edge_logging", "log_request", "request_fields", "serving"]

access_log = logging.getLogger("edge.access")


@dataclass(slots=True)
class ServedRequest:
    """The request being served, as the log lines need it."""

    request_id: str
    exchange: Exchange | None = None


serving: ContextVar[ServedRequest | None] = ContextVar("edge_request", default=None)


def request_fields() -> dict[str, Any]:
    """The current request's id and user, for every log record."""
    current = serving.get()
    if current is None:
        return {}
    fields: dict[str, Any] = {"request_id": current.request_id}
    if current.exchange is not None:
        user = getattr(current.exchange.state.get("session"), "user", "")
        if user:
            fields["user_id"] = user
    return fields


def log_request(method: str, route: str | None, status: int, duration: float) -> None:
    """The request's access line (inside its span, so it carries the trace id)."""
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "http_method": method,
                "route": route or "",
                "status": status,
                "duration_ms": round(duration * 1000, 3),
            },
        )


def configure_edge_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Every logger of the edge process as JSON lines on `stream` (stderr)."""
    configure_json_logging(level, stream, request_fields)
