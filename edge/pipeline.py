"""The request pipeline: an exchange passed through named stages, outermost first.

    errors → route → authenticate → authorize → rate_limit → build_request → decrypt
           → metadata → respond → encrypt → cache → call

Each stage is `async def __call__(exchange, call_next) -> None`: it may work on the
exchange, then await `call_next(exchange)` for the rest of the pipeline, then work on
what came back (the upstream `reply`, or the HTTP `response`); or it may answer by
itself — raise an `EdgeError`, or set `exchange.reply` / `exchange.response` and not call
`call_next` (a cache hit). Stages talk only through the exchange.

The order encodes the contract between stages: `respond` renders `exchange.reply` into
an HTTP response on the way out, so `encrypt` (inside it) sees the upstream message
before it becomes JSON and `cache` (inside that) stores and replays plaintext replies;
sessions (`authenticate`) and permissions (`authorize`) run before any request body is
read. Slots without a stage are skipped; `Edge(stages=…)` fills or replaces them.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.metadata import IncomingHeaders
    from edge.routes import Route

__all__ = [
    "STAGE_ORDER",
    "Exchange",
    "Handler",
    "HttpResponse",
    "Reply",
    "Stage",
    "StreamReply",
    "compose",
]

STAGE_ORDER = (
    "errors",
    "route",
    "authenticate",
    "authorize",
    "rate_limit",
    "build_request",
    "decrypt",
    "metadata",
    "respond",
    "encrypt",
    "cache",
    "call",
)

Handler = Callable[["Exchange"], Awaitable[None]]


class Stage(Protocol):
    """One step of the pipeline; see the module docstring for the contract."""

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None: ...


@dataclass(slots=True)
class Reply:
    """A unary upstream answer: the response message and the call's metadata."""

    message: Any
    initial: tuple[tuple[str, str | bytes], ...] = ()
    trailing: tuple[tuple[str, str | bytes], ...] = ()
    # The message already encoded as the JSON body (the cache keeps answers that way);
    # with it, `message` may be None: a cache hit is served without decoding anything.
    body: bytes | None = None


@dataclass(slots=True)
class StreamReply:
    """A server-streaming upstream answer: messages arrive as the client reads them."""

    messages: AsyncIterator[Any]
    initial: tuple[tuple[str, str | bytes], ...] = ()
    # Cancels the upstream call (client gone, or the edge is shutting down).
    cancel: Callable[[], None] = lambda: None


@dataclass(slots=True)
class HttpResponse:
    """What the edge writes back: a complete body, or chunks for a stream."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    chunks: AsyncIterator[bytes] | None = None
    # Called once a streamed response ends, however it ends (cancels the upstream call).
    close: Callable[[], Any] | None = None


@dataclass(slots=True, eq=False)
class Exchange:
    """One HTTP request on its way through the pipeline, and everything learnt about it."""

    method: str
    raw_path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    client: str | None
    scheme: str
    receive: Callable[[], Awaitable[dict[str, Any]]]
    max_body: int
    request_id: str
    route: Route | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    # The upstream call's metadata and deadline: built by `upstream_headers()` from
    # `build_incoming` (set by the metadata stage) when a call is made.
    incoming: IncomingHeaders | None = None
    # (Given the exchange when called rather than holding it: no reference cycle, so an
    # exchange is freed when its request ends, not by the garbage collector.)
    build_incoming: Callable[[Exchange], IncomingHeaders] | None = None
    request: Any = None
    reply: Reply | StreamReply | None = None
    response: HttpResponse | None = None
    # Headers any stage wants on the response (request id, session refresh, ETag …).
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Scratch space for stages that come later (the session, the principal …).
    state: dict[str, Any] = field(default_factory=dict)
    _body: bytes | None = None

    async def body(self) -> bytes:
        """The request body, read once; over `max_body` bytes is a 413."""
        if self._body is not None:
            return self._body
        declared = _content_length(self.headers)
        if declared is not None and declared > self.max_body:
            raise _too_large(self.max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    def upstream_headers(self) -> IncomingHeaders:
        """The upstream call's metadata and deadline, built once, when first needed: an
        answer from the cache never needs them."""
        if self.incoming is None:
            if self.build_incoming is None:
                raise RuntimeError("no metadata stage ran before the upstream call")
            self.incoming = self.build_incoming(self)
        return self.incoming

    def header(self, name: bytes) -> bytes | None:
        """The first value of a request header (name in lower case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_list(self, name: bytes) -> bytes | None:
        """Every value of a list-valued request header, in order, joined by commas as
        RFC 9110 §5.3 reads repeated field lines (None when absent)."""
        values = [value for key, value in self.headers if key == name]
        return b",".join(values) if values else None


def compose(stages: Mapping[str, Stage]) -> Handler:
    """Chain the given stages in STAGE_ORDER into one handler; unknown names are errors."""
    unknown = set(stages) - set(STAGE_ORDER)
    if unknown:
        raise ValueError(f"unknown pipeline stages: {sorted(unknown)}")
    handler: Handler = _end
    for name in reversed(STAGE_ORDER):
        stage = stages.get(name)
        if stage is not None:
            handler = functools.partial(stage.__call__, call_next=handler)
    return handler


async def _end(exchange: Exchange) -> None:
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> EdgeError:
    # 413 rather than the table's 429: the request itself is too big, not the rate.
    return EdgeError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"request body larger than {limit} bytes",
        "REQUEST_TOO_LARGE",
        status=413,
        metadata={"limitBytes": str(limit)},
    )
