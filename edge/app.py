"""The edge as an ASGI application: routes built from descriptors, the pipeline, and
the two endpoints of its own (`GET /healthz`, `GET /openapi.json`).

Raw ASGI rather than a framework: every request pays for whatever sits between the
socket and the pipeline, and the pipeline already does the routing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
import orjson

from edge.bindings import MethodSpec, collect_methods
from edge.config import EdgeConfig
from edge.descriptors import Catalog, DescriptorError
from edge.errors import ErrorRenderer
from edge.logs import ServedRequest, log_request, serving
from edge.metadata import HeaderRules, request_id
from edge.metrics import MetricsAccess, observe_request, render_metrics
from edge.openapi import build_document
from edge.pipeline import Exchange, HttpResponse, Stage, compose
from edge.router import RouteConflict, Router, allow_header
from edge.routes import Route, RouteBuilder
from edge.stages import (
    BuildRequestStage,
    CallStage,
    DefaultPolicyStage,
    ErrorsStage,
    MetadataStage,
    RespondStage,
    RouteStage,
)
from edge.tracing import finish_span, request_span, traceparent
from edge.upstream import Upstreams

__all__ = ["Edge"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = b"application/json"


class Edge:
    """JSON/REST ⇄ gRPC for every `google.api.http`-annotated service in a catalog.

    `upstreams` maps service full names to `host:port`; only those services are routed.
    `channel_credentials` None means plaintext upstream connections. `stages` fills or
    replaces pipeline slots by name (see `edge.pipeline.STAGE_ORDER`); a None value
    removes a default stage. `dependencies` are further checks `/healthz` reports (name →
    a coroutine function giving each part's state), such as the Memcached nodes; they
    are reported, not required.
    """

    def __init__(
        self,
        catalog: Catalog,
        upstreams: Mapping[str, str],
        *,
        config: EdgeConfig | None = None,
        channel_credentials: grpc.ChannelCredentials | None = None,
        stages: Mapping[str, Stage | None] | None = None,
        dependencies: Mapping[str, Callable[[], Awaitable[Mapping[str, str]]]] | None = None,
    ) -> None:
        self.config = config or EdgeConfig()
        self._dependencies = dict(dependencies or {})
        self.catalog = catalog
        for service in upstreams:
            catalog.service(service)  # DescriptorError for a service we have no contract of
        self.upstreams = Upstreams(upstreams, credentials=channel_credentials)
        self.methods: list[MethodSpec] = collect_methods(
            catalog, upstreams, self.config.default_policy
        )
        builder = RouteBuilder(
            catalog,
            ignored_query_parameters=self.config.ignored_query_parameters,
            reject_unknown_query_parameters=self.config.reject_unknown_query_parameters,
        )
        self.router: Router[Route] = Router()
        self.routes: list[Route] = []
        for spec in self.methods:
            for binding in spec.bindings:
                route = builder.build(spec, binding)
                try:
                    self.router.add(binding.http_method, binding.template, route)
                except RouteConflict as exc:
                    raise DescriptorError(f"{spec.method.full_name}: {exc}") from exc
                self.routes.append(route)
        self.encoder = builder.encoder
        self.renderer = ErrorRenderer(
            domain=self.config.error_domain,
            auth_challenge=self.config.auth_challenge,
            pool=catalog.pool,
        )
        self.header_rules = HeaderRules(
            internal_prefixes=self.config.internal_prefixes,
            default_timeout=self.config.default_timeout,
            max_timeout=self.config.max_timeout,
        )
        chain: dict[str, Stage | None] = {
            "errors": ErrorsStage(self.renderer, self.header_rules),
            "route": RouteStage(self.router),
            "authorize": DefaultPolicyStage(),
            "build_request": BuildRequestStage(),
            "metadata": MetadataStage(self.header_rules, self.config.stream_timeout),
            "respond": RespondStage(self.renderer, self.header_rules, self.config.sse_keepalive),
            "call": CallStage(),
        }
        chain.update(stages or {})
        self._handler = compose({k: v for k, v in chain.items() if v is not None})
        self._openapi: bytes | None = None
        # Path items of endpoints that middleware around the edge serves, for its
        # OpenAPI document (`GET /v1/keys`, added by the secure edge).
        self.extra_paths: dict[str, dict[str, Any]] = {}
        self._metrics_access = MetricsAccess(self.config.metrics_allow)
        # Set when the process begins to stop (edge.server.DrainingServer): /healthz
        # then answers 503 while requests are still served.
        self.draining = False
        self._own: dict[str, Callable[[], Awaitable[HttpResponse]]] = {
            "/healthz": self._healthz,
            "/openapi.json": self._openapi_json,
        }

    async def startup(self) -> None:
        """Open the upstream channels (in the serving event loop) and bind the routes."""
        if self.upstreams.started:
            return
        self.upstreams.start()
        for route in self.routes:
            channel = self.upstreams.channel(route.spec.service_name)
            factory = channel.unary_stream if route.streaming else channel.unary_unary
            route.call = factory(
                route.spec.grpc_path,
                request_serializer=route.request_class.SerializeToString,
                response_deserializer=route.response_class.FromString,
            )
        log.info(
            "edge: %d routes over %d services", len(self.routes), len(self.upstreams.addresses)
        )

    async def shutdown(self) -> None:
        await self.upstreams.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.upstreams.started:
            await self.startup()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        method: str = scope["method"]
        # HEAD is a GET whose body is not sent: the same checks, headers and length.
        head = method == "HEAD"
        if head:
            method = "GET"
        path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
        started = time.perf_counter()
        served = ServedRequest(request_id(headers))
        token = serving.set(served)
        try:
            with request_span(method, headers) as span:
                response, route = await self._respond(scope, receive, method, path, served)
                response.headers.append((b"x-request-id", served.request_id.encode("latin-1")))
                parent = traceparent(span)
                if parent:
                    response.headers.append((b"traceparent", parent.encode("ascii")))
                finish_span(span, method, route, response.status)
                elapsed = time.perf_counter() - started
                observe_request(method, route, response.status, elapsed)
                log_request(method, route, response.status, elapsed)
                await _send(response, receive, send, head=head)
        finally:
            serving.reset(token)

    async def _respond(
        self, scope: Scope, receive: Receive, method: str, path: str, served: ServedRequest
    ) -> tuple[HttpResponse, str | None]:
        """The response, and the route template that answered (None: no route)."""
        client = scope.get("client")
        peer = client[0] if client else None
        if (
            path == "/metrics"
            and method == "GET"
            and self._metrics_access.allows(peer, scope["headers"])
        ):
            body, content_type = render_metrics()
            return HttpResponse(200, [(b"content-type", content_type)], body), path
        own = self._own.get(path)
        if own is not None and method == "GET":
            return await own(), path
        if own is not None and method == "OPTIONS":
            return HttpResponse(204, [(b"allow", allow_header(["GET"]))]), path
        exchange = Exchange(
            method=method,
            raw_path=path,
            query=scope.get("query_string", b""),
            headers=scope["headers"],
            client=peer,
            scheme=scope.get("scheme", "http"),
            receive=receive,
            max_body=self.config.max_body_bytes,
            request_id=served.request_id,
        )
        served.exchange = exchange
        await self._handler(exchange)
        assert exchange.response is not None
        route = exchange.route.binding.template.source if exchange.route is not None else None
        return exchange.response, route

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # report it; uvicorn then exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _healthz(self) -> HttpResponse:
        names = sorted(self._dependencies)
        states, *parts = await asyncio.gather(
            self.upstreams.health(self.config.health_timeout),
            *(self._dependencies[name]() for name in names),
        )
        serving = all(state == "SERVING" for state in states.values())
        status = "SERVING" if serving else "NOT_SERVING"
        if self.draining:  # stopping: the load balancer should send no more
            serving, status = False, "DRAINING"
        report: dict[str, Any] = {"status": status}
        report["services"] = states
        report.update({name: dict(part) for name, part in zip(names, parts, strict=True)})
        body = orjson.dumps(report)
        headers = [(b"content-type", _JSON), (b"cache-control", b"no-store")]
        return HttpResponse(200 if serving else 503, headers, body)

    async def _openapi_json(self) -> HttpResponse:
        if self._openapi is None:
            self._openapi = orjson.dumps(build_document(self))
        return HttpResponse(200, [(b"content-type", _JSON)], self._openapi)


async def _send(
    response: HttpResponse, receive: Receive, send: Send, *, head: bool = False
) -> None:
    headers = response.headers
    if head:
        await _send_head(response, send)
        return
    if response.chunks is None:
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await _send_stream(response, receive, send)


async def _send_head(response: HttpResponse, send: Send) -> None:
    """The response's status and headers alone; a stream is closed unread."""
    headers = response.headers
    if response.chunks is None:
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    if response.chunks is not None:
        await _close_stream(response)


async def _send_stream(response: HttpResponse, receive: Receive, send: Send) -> None:
    chunks = response.chunks
    assert chunks is not None
    consumer = asyncio.current_task()
    assert consumer is not None

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        consumer.cancel()  # the client left: stop reading the upstream stream

    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except asyncio.CancelledError:
        if not watcher.done():
            raise
    finally:
        watcher.cancel()
        await _close_stream(response)


async def _close_stream(response: HttpResponse) -> None:
    """End a streamed response's chunks and its upstream call, however it ended."""
    aclose = getattr(response.chunks, "aclose", None)
    if aclose is not None:
        await aclose()
    if response.close is not None:
        response.close()
