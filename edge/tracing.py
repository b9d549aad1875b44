"""The edge's span at the front of every request, and the `traceparent` it passes on.

The edge opens one SERVER span per HTTP request (its own, not an ASGI middleware's: the
edge is raw ASGI and a middleware would cost every request a second pass). A phone's
valid W3C `traceparent` is continued, as the specification asks of a server; without
one the edge starts the trace. The span's context travels upstream as `traceparent`
metadata (edge.metadata drops whatever the phone sent under that name), each service's
gRPC server span becomes its child, and the phone gets `traceparent` back beside
`X-Request-Id`.

With no tracer provider installed (palmlib.telemetry: nothing configured) the span is
the API's non-recording one: a continued trace still flows through unchanged, and a
request without one carries no trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from palmlib.telemetry import traceparent

__all__ = ["finish_span", "request_span", "traceparent"]

_tracer = trace.get_tracer("palmgrid.edge")
_propagator = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")


def _trace_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in _TRACE_HEADERS
    }


def _provider_installed() -> bool:
    # The API's global, read directly: `get_tracer_provider()` consults the environment
    # on every call while none is set, a few µs the edge would pay per request.
    return getattr(trace, "_TRACER_PROVIDER", True) is not None


class request_span:
    """The request's span, current for the block (ended after it).

    A class rather than a generator: with tracing off the edge pays only for a look at
    the headers and the provider (~1 µs here), not for a generator's frame."""

    __slots__ = ("_span", "_use")

    def __init__(self, method: str, headers: Iterable[tuple[bytes, bytes]]) -> None:
        carrier = _trace_headers(headers)
        self._use: AbstractContextManager[trace.Span] | None = None
        if not carrier and not _provider_installed():
            # Tracing off and no trace to continue: nothing to start, attach or pass on.
            self._span: trace.Span = trace.INVALID_SPAN
            return
        parent = _propagator.extract(carrier) if carrier else otel_context.Context()
        self._span = _tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        self._use = trace.use_span(self._span, end_on_exit=True)

    def __enter__(self) -> trace.Span:
        if self._use is not None:
            self._use.__enter__()
        return self._span

    def __exit__(self, *exc: Any) -> bool | None:
        return None if self._use is None else self._use.__exit__(*exc)


def finish_span(span: trace.Span, method: str, route: str | None, status: int) -> None:
    """Name the span after its route template and record the HTTP status."""
    if not span.is_recording():
        return
    if route:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.request.method", method)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
