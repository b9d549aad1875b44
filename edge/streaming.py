"""Server streams over HTTP/1.1: newline-delimited JSON, or Server-Sent Events.

NDJSON is grpc-gateway's format: one `{"result": …}` line per message and, when the
stream fails after it started, a last `{"error": <google.rpc.Status>}` line (the HTTP
status is already 200 by then). SSE, chosen with `Accept: text/event-stream`, sends each
message as a `data:` event and a failure as an `event: error`; while the upstream is
quiet it sends a comment line every `keepalive` seconds so proxies keep the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import orjson

log = logging.getLogger(__name__)

__all__ = ["StreamFormat", "choose_format", "content_type", "frames", "raw_chunks"]

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


def _message_frame(value: Any, fmt: StreamFormat) -> bytes:
    if fmt == "sse":
        return b"data: " + orjson.dumps(value) + b"\n\n"
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
