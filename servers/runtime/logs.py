"""Structured logs of a service: palmlib's JSON lines with the current call's fields.

Inside an RPC every record carries the request id, the method and the caller's user (or
service account) of the current call, beside the trace id palmlib adds; request bodies
and metadata are never logged by the runtime.
"""

from __future__ import annotations

from typing import IO, Any

from palmlib.jsonlogs import REDACTED, configure_json_logging
from palmlib.jsonlogs import JsonFormatter as _JsonFormatter
from servers.runtime.calls import current_call

__all__ = ["REDACTED", "JsonFormatter", "call_fields", "configure_logging"]


def call_fields() -> dict[str, Any]:
    """The current call's request id, method and user, for every log record."""
    call = current_call()
    if call is None:
        return {}
    fields: dict[str, Any] = {"request_id": call.request_id, "method": call.method}
    if call.principal is not None and call.principal.user:
        fields["user_id"] = call.principal.user
    return fields


class JsonFormatter(_JsonFormatter):
    """palmlib's JSON lines with the current call's fields."""

    def __init__(self) -> None:
        super().__init__(call_fields)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send every logger's records to `stream` (stderr) as JSON lines at `level`."""
    configure_json_logging(level, stream, call_fields)
