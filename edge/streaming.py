"""Server streams over HTTP/1.1: newline-delimited JSON, or Server-Sent Events.

NDJSON is grpc-gateway's format: one `{"result": …}` line per message and, when the
stream fails after it started, a last `{"error": <google.rpc.Status>}` line (the HTTP
status is already 200 by then). SSE, chosen with `Accept: text/event-stream`, sends each
message as a `data:` event and a failure as an `event: error`; while the upstream is
quiet it sends a comment line every `keepalive` seconds so proxies keep the connection.

Resumable streams: when a streamed message has a string field `cursor` (RESUME_FIELD),
its SSE event carries it as the event `id:`, and a reconnecting EventSource's
`Last-Event-ID` header fills the request's `cursor` field (unless the query set it), so
the upstream resumes after the last event the client saw (`resume_cursor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import orjson

log = logging.getLogger(__name__)

__all__ = [
    "RESUME_FIELD",
    "StreamFormat",
    "choose_format",
    "content_type",
    "frames",
    "raw_chunks",
    "resume_cursor",
]

# The request and response field through which a stream resumes.
RESUME_FIELD = "cursor"
_MAX_CURSOR = 1024

StreamFormat = Literal["ndjson", "sse"]

_CONTENT_TYPES = {"ndjson": b"application/x-ndjson", "sse": b"text/event-stream"}


def choose_format(accept: bytes | None) -> StreamFormat:
    return "sse" if accept is not None and b"text/event-stream" in accept else "ndjson"


def content_type(fmt: StreamFormat) -> bytes:
    return _CONTENT_TYPES[fmt]


async def frames(
    messages: AsyncIterator[Any],
    encode: Callable[[Any], Any],
    fail: Callable[[BaseException], dict[str, Any] | None],
    fmt: StreamFormat,
    keepalive: float,
) -> AsyncIterator[bytes]:
    """Encoded frames for each message; `fail` turns an upstream error into a Status.

    `fail` returns None for errors that should propagate (cancellation).
    """
    iterator = messages.__aiter__()
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            if fmt == "sse" and keepalive > 0:
                done, _ = await asyncio.wait({pending}, timeout=keepalive)
                if not done:
                    yield b": keep-alive\n\n"
                    continue
            try:
                message = await pending
            except StopAsyncIteration:
                return
            except Exception as exc:
                status = fail(exc)
                if status is None:
                    raise
                yield _error_frame(status, fmt)
                return
            finally:
                if pending.done():
                    pending = None
            yield _message_frame(encode(message), fmt)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


def resume_cursor(request: Any, last_event_id: bytes | None) -> None:
    """Set `request`'s cursor from an SSE `Last-Event-ID` header when the request has a
    cursor field the query left empty; a header that is not a printable id is ignored."""
    if not last_event_id or len(last_event_id) > _MAX_CURSOR:
        return
    field = request.DESCRIPTOR.fields_by_name.get(RESUME_FIELD)
    if field is None or field.type != field.TYPE_STRING or getattr(request, RESUME_FIELD):
        return
    text = last_event_id.decode("latin-1")
    if text.isprintable():
        setattr(request, RESUME_FIELD, text)


def _event_id(value: Any) -> bytes:
    cursor = value.get(RESUME_FIELD) if isinstance(value, dict) else None
    if not isinstance(cursor, str) or not cursor or not cursor.isprintable():
        return b""
    return b"id: " + cursor.encode() + b"\n"


def _message_frame(value: Any, fmt: StreamFormat) -> bytes:
    if fmt == "sse":
        return _event_id(value) + b"data: " + orjson.dumps(value) + b"\n\n"
    return orjson.dumps({"result": value}) + b"\n"


def _error_frame(status: dict[str, Any], fmt: StreamFormat) -> bytes:
    if fmt == "sse":
        return b"event: error\ndata: " + orjson.dumps(status) + b"\n\n"
    return orjson.dumps({"error": status}) + b"\n"


async def raw_chunks(messages: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The `data` of each google.api.HttpBody message; a failure ends the body early."""
    try:
        async for message in messages:
            yield message.data
    except Exception as exc:  # the status line is long gone; all we can do is stop
        log.warning("edge: raw stream ended by %s", exc)
