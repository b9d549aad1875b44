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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

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


@contextmanager
def request_span(method: str, headers: Iterable[tuple[bytes, bytes]]) -> Iterator[trace.Span]:
    """The request's span, current for the block (ended after it)."""
    carrier = _trace_headers(headers)
    parent = _propagator.extract(carrier) if carrier else otel_context.Context()
    span = _tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
    with trace.use_span(span, end_on_exit=True):
        yield span


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
