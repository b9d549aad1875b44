"""The pipeline stages the edge has today: errors, route, authorize (the default policy
only), build_request, metadata, respond and call. Sessions, field encryption, caching
and rate limits fill the other slots of `edge.pipeline.STAGE_ORDER`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import orjson

from edge import streaming
from edge.bindings import field_by_path
from edge.errors import EdgeError, ErrorRenderer, UpstreamFailure
from edge.field_mask import paths_from_json
from edge.metadata import HeaderRules, IncomingHeaders, check_headers, response_headers
from edge.pipeline import Exchange, Handler, HttpResponse, Reply, StreamReply
from edge.protojson import EncodeError, JsonError
from edge.query import QueryError, parse_query
from edge.router import MethodNotAllowed, NoRoute, Router, allow_header
from edge.routes import Route
from palmlib.telemetry import traceparent

__all__ = [
    "BuildRequestStage",
    "CallStage",
    "DefaultPolicyStage",
    "ErrorsStage",
    "MetadataStage",
    "RespondStage",
    "RouteStage",
    "json_body",
]

log = logging.getLogger(__name__)

_C = grpc.StatusCode
_JSON = b"application/json"
_JSON_TYPES = (b"application/json", b"+json", b"text/json")


class ErrorsStage:
    """Outermost: turns whatever went wrong into a `google.rpc.Status` response.

    An upstream failure keeps the upstream's metadata as `Grpc-Metadata-*` and
    `Grpc-Trailer-*` headers, as grpc-gateway's error handler does.
    """

    def __init__(self, renderer: ErrorRenderer, rules: HeaderRules) -> None:
        self._renderer = renderer
        self._rules = rules

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        try:
            await call_next(exchange)
        except EdgeError as exc:
            creds = exchange.header(b"authorization") is not None
            self._answer(exchange, *self._renderer.edge_error(exc, had_credentials=creds))
        except (UpstreamFailure, grpc.aio.AioRpcError) as exc:
            creds = exchange.header(b"authorization") is not None
            failure = (
                exc if isinstance(exc, UpstreamFailure) else UpstreamFailure.from_rpc_error(exc)
            )
            status, headers, payload = self._renderer.upstream_failure(
                failure, had_credentials=creds
            )
            headers += response_headers(failure.initial, failure.trailing, self._rules)
            self._answer(exchange, status, headers, payload)
        except Exception:
            log.exception("edge: unexpected failure (request id %s)", exchange.request_id)
            error = EdgeError(_C.INTERNAL, "internal error", "INTERNAL")
            self._answer(exchange, *self._renderer.edge_error(error, had_credentials=False))

    def _answer(
        self,
        exchange: Exchange,
        status: int,
        headers: list[tuple[bytes, bytes]],
        payload: dict[str, Any],
    ) -> None:
        exchange.response = HttpResponse(
            status,
            [(b"content-type", _JSON), *headers, *exchange.response_headers],
            self._renderer.body(payload),
        )


class RouteStage:
    """Finds the route: 404 for an unknown path, 405 (with `Allow`) for a wrong method;
    `OPTIONS` on a known path is answered here, 204 with `Allow` (a CORS preflight is
    answered before, by the CORS middleware, when one is configured).

    grpc-gateway answers a known path with the wrong method with 501; 405 and `Allow`
    are what HTTP specifies (RFC 9110 §15.5.6) and what client libraries understand.
    """

    def __init__(self, router: Router[Route]) -> None:
        self._router = router

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        try:
            match = self._router.lookup(exchange.method, exchange.raw_path)
        except NoRoute:
            raise EdgeError(
                _C.NOT_FOUND, f"no route for {exchange.raw_path}", "NOT_FOUND"
            ) from None
        except MethodNotAllowed as exc:
            allow = allow_header(exc.allowed)
            if exchange.method == "OPTIONS":
                exchange.response = HttpResponse(204, [(b"allow", allow)])
                return
            raise EdgeError(
                _C.UNIMPLEMENTED,
                f"{exchange.method} is not allowed here; allowed: {', '.join(exc.allowed)}",
                "METHOD_NOT_ALLOWED",
                status=405,
                headers=[(b"allow", allow)],
            ) from None
        except UnicodeDecodeError:
            raise EdgeError.bad_request(
                "the path is not valid percent-encoded UTF-8", ("path", "bad encoding")
            ) from None
        exchange.route = match.route
        exchange.path_params = match.params
        await call_next(exchange)


class DefaultPolicyStage:
    """The `authorize` slot until sessions exist: refuses methods the policy denies.

    A method is denied when it carries none of our access options and the edge runs
    with `--default-policy deny`. It stays routed (so the client gets a 403 that says
    why, not a 404), but the upstream is never called.
    """

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route = exchange.route
        assert route is not None
        if route.access.kind == "denied":
            raise EdgeError(
                _C.PERMISSION_DENIED,
                f"{route.method_name} is not open through the edge",
                "PERMISSION_DENIED",
            )
        await call_next(exchange)


class BuildRequestStage:
    """Builds the request message: body, then path variables, then query parameters.

    A request already built (a cacheable GET whose entry is read together with the
    session's revocation mark, see edge.cache.stage) is kept as it is.
    """

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        if exchange.request is None:
            exchange.request = await self.build(exchange)
        await call_next(exchange)

    async def build(self, exchange: Exchange) -> Any:
        """The request message of the exchange; EdgeError (400, 415) on bad input."""
        route = exchange.route
        assert route is not None
        message = route.request_class()
        body_json = await self._body(exchange, route, message)
        for setter in route.path_setters:
            value = exchange.path_params[setter.name]
            try:
                setter.apply(message, value)
            except (ValueError, TypeError) as exc:
                raise EdgeError.bad_request(
                    f"path segment {value!r} is not a valid {setter.name}: {exc}",
                    (setter.name, str(exc)),
                ) from None
        if exchange.query:
            try:
                route.query.apply(message, parse_query(exchange.query))
            except QueryError as exc:
                raise EdgeError.bad_request(str(exc), (exc.parameter, exc.reason)) from None
        if route.idempotency_key:
            _apply_idempotency_key(message, exchange.header(b"idempotency-key"))
        if route.streaming:
            streaming.resume_cursor(message, exchange.header(b"last-event-id"))
        if route.derive_update_mask and body_json is not None and not message.update_mask.paths:
            assert route.body_message is not None
            message.update_mask.paths.extend(paths_from_json(body_json, route.body_message))
        return message

    async def _body(self, exchange: Exchange, route: Route, message: Any) -> Any:
        kind = route.body_kind
        if kind == "none":
            return None
        raw = await exchange.body()
        content_type = exchange.header(b"content-type")
        if kind in ("raw", "raw_field"):
            target = message
            for name in route.raw_body_path:
                target = getattr(target, name)
            target.content_type = content_type.decode("latin-1") if content_type else ""
            target.data = raw
            return None
        if not raw.strip():
            return None
        if content_type is not None and not any(t in content_type for t in _JSON_TYPES):
            # 415 rather than the table's 400: the body may be fine, in another format.
            raise EdgeError(
                _C.INVALID_ARGUMENT,
                "the request body must be JSON (Content-Type: application/json)",
                "UNSUPPORTED_MEDIA_TYPE",
                status=415,
            )
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            reason = f"malformed JSON: {exc}"
            raise EdgeError.bad_request(reason, ("body", reason)) from None
        if value is None:
            # Proto3 JSON reads null as "not set": a body of null would be an empty
            # request that the client cannot have meant.
            reason = "the body is null; send a JSON object"
            raise EdgeError.bad_request(reason, ("body", reason))
        assert route.decode_body is not None
        try:
            if kind == "json":
                route.decode_body(value, message)
            else:
                target = message
                for name in route.raw_body_path:
                    target = getattr(target, name)
                route.decode_body(target, value)
        except JsonError as exc:
            field = exc.field
            if kind == "json_field":
                body = _json_path(route)
                field = body + (f".{field}" if field and field[0] != "[" else field)
            raise EdgeError.bad_request(
                f"invalid {field or 'body'}: {exc.reason}", (field or "body", exc.reason)
            ) from None
        return value


def _json_path(route: Route) -> str:
    """The body field's path as the client wrote it (`systemParameters`), for errors that
    name a field inside it in JSON names too."""
    request = route.spec.method.input_type
    path = tuple(route.binding.body.split("."))
    fields = (field_by_path(request, path[: i + 1]) for i in range(len(path)))
    return ".".join(
        f.json_name if f is not None else name for f, name in zip(fields, path, strict=True)
    )


def _apply_idempotency_key(message: Any, header: bytes | None) -> None:
    """The `Idempotency-Key` header is the request's `request_id` (AIP-155) when the
    body and query do not give one; both, different, is 400 naming `requestId`."""
    if header is None:
        return
    key = header.decode("latin-1").strip()
    if not message.request_id:
        message.request_id = key
    elif message.request_id != key:
        reason = "the Idempotency-Key header and requestId differ"
        raise EdgeError.bad_request(reason, ("requestId", reason))


class MetadataStage:
    """Headers → gRPC metadata and the call's deadline (see edge.metadata); `amend`
    adds to what is built (the secure edge's caller identity, edge.security.identity)."""

    def __init__(
        self,
        rules: HeaderRules,
        stream_timeout: float,
        amend: Callable[[Exchange, IncomingHeaders], None] | None = None,
    ) -> None:
        self._rules = rules
        self._stream_timeout = stream_timeout
        self._amend = amend

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        # Bad input is refused here, in its turn; the metadata is built only for a call.
        check_headers(exchange.headers, self._rules)
        exchange.build_incoming = functools.partial(self._incoming, parent=traceparent())
        await call_next(exchange)

    def _incoming(self, exchange: Exchange, parent: str) -> IncomingHeaders:
        assert exchange.route is not None
        incoming = IncomingHeaders.read(
            exchange.headers,
            self._rules,
            request_id=exchange.request_id,
            client=exchange.client,
            scheme=exchange.scheme,
            parent=parent,
            streaming=exchange.route.streaming,
            stream_timeout=self._stream_timeout,
        )
        if self._amend is not None:
            self._amend(exchange, incoming)
        return incoming


class RespondStage:
    """Renders the upstream reply as HTTP: proto3 JSON, raw HttpBody, NDJSON or SSE."""

    def __init__(self, renderer: ErrorRenderer, rules: HeaderRules, keepalive: float) -> None:
        self._renderer = renderer
        self._rules = rules
        self._keepalive = keepalive

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        await call_next(exchange)
        if exchange.response is not None:
            return
        route, reply = exchange.route, exchange.reply
        assert route is not None and reply is not None
        if isinstance(reply, StreamReply):
            exchange.response = self._stream(exchange, route, reply)
            return
        headers = response_headers(reply.initial, reply.trailing, self._rules)
        headers.extend(exchange.response_headers)
        if route.raw_response:
            body_msg = reply.message
            if route.response_field:
                body_msg = getattr(body_msg, route.response_field)
            content_type = body_msg.content_type.encode("latin-1") or b"application/octet-stream"
            headers.append((b"content-type", content_type))
            exchange.response = HttpResponse(200, headers, body_msg.data)
            return
        body = reply.body if reply.body is not None else json_body(route, reply.message)
        headers.append((b"content-type", _JSON))
        exchange.response = HttpResponse(200, headers, body)

    def _stream(self, exchange: Exchange, route: Route, reply: StreamReply) -> HttpResponse:
        fmt = streaming.choose_format(exchange.header(b"accept"))
        headers = response_headers(reply.initial, (), self._rules)
        headers.extend(exchange.response_headers)
        headers.append((b"content-type", streaming.content_type(fmt)))
        if fmt == "sse":
            headers.append((b"cache-control", b"no-cache"))

        def fail(exc: BaseException) -> dict[str, Any] | None:
            if isinstance(exc, grpc.aio.AioRpcError):
                failure = UpstreamFailure.from_rpc_error(exc)
                return self._renderer.upstream_failure(failure, had_credentials=False)[2]
            if isinstance(exc, EncodeError):
                error = EdgeError(_C.INTERNAL, "internal error", "INTERNAL")
                return self._renderer.edge_error(error, had_credentials=False)[2]
            return None

        if route.raw_response:
            # A stream of HttpBody messages is the concatenation of their bytes, as in
            # grpc-gateway (a download in pieces); it has no room for an error frame.
            raw = [(k, v) for k, v in headers if k != b"content-type"]
            raw.append((b"content-type", b"application/octet-stream"))
            chunks = streaming.raw_chunks(reply.messages)
            return HttpResponse(200, raw, chunks=chunks, close=reply.cancel)
        chunks = streaming.frames(reply.messages, route.encode, fail, fmt, self._keepalive)
        return HttpResponse(200, headers, chunks=chunks, close=reply.cancel)


def json_body(route: Route, message: Any) -> bytes:
    """A response message as the proto3 JSON body the phone receives."""
    try:
        return orjson.dumps(route.encode(message))
    except (EncodeError, orjson.JSONEncodeError) as exc:
        log.error("edge: cannot write %s as JSON: %s", route.method_name, exc)
        raise EdgeError(_C.INTERNAL, "internal error", "INTERNAL") from None


class CallStage:
    """Innermost: calls the upstream method with the built request."""

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route, incoming = exchange.route, exchange.upstream_headers()
        assert route is not None
        call = route.call(exchange.request, timeout=incoming.timeout, metadata=incoming.metadata)
        try:
            if route.streaming:
                initial = await call.initial_metadata()
                first: Any = _NOTHING
                if not initial or call.done():
                    # No headers of its own yet: the upstream may be about to fail without
                    # sending anything (a trailers-only answer). Wait for its first message,
                    # so that such a failure becomes a proper HTTP error, not a 200 stream.
                    first = await call.read()
                    initial = await call.initial_metadata()
                messages = _stream_messages(call, first)
                exchange.reply = StreamReply(messages, tuple(initial or ()), call.cancel)
            else:
                message = await call
                initial = await call.initial_metadata()
                trailing = await call.trailing_metadata()
                exchange.reply = Reply(message, tuple(initial or ()), tuple(trailing or ()))
        except grpc.aio.AioRpcError as exc:
            raise UpstreamFailure.from_rpc_error(exc) from None
        await call_next(exchange)


_NOTHING = object()


async def _stream_messages(call: Any, first: Any) -> AsyncIterator[Any]:
    """The messages of a server stream, starting with one already read (if any)."""
    if first is grpc.aio.EOF:
        return
    if first is not _NOTHING:
        yield first
    while True:
        message = await call.read()
        if message is grpc.aio.EOF:
            return
        yield message
