"""OpenTelemetry's maintained instrumentations on the runtime's servers, channels and
database engines (palmlib.telemetry decides whether anything is exported).

Health checks and reflection get no spans: load balancers poll them all day.
"""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.grpc import (
    aio_server_interceptor,
    client_interceptor,
    filters,
    server_interceptor,
)
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as _sql_version
from sqlalchemy.engine import Engine

__all__ = [
    "trace_engine",
    "traced_channel",
    "tracing_aio_interceptor",
    "tracing_interceptor",
]

_UNTRACED = filters.negate(
    filters.any_of(
        filters.service_name("grpc.health.v1.Health"),
        filters.service_prefix("grpc.reflection."),
    )
)
_sql_tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", _sql_version)
_sql_connections = metrics.get_meter(
    "opentelemetry.instrumentation.sqlalchemy", _sql_version
).create_up_down_counter(
    name="db.client.connections.usage",
    unit="connections",
    description="Connections in the state named by the state attribute.",
)


def tracing_interceptor() -> grpc.ServerInterceptor:
    """A span per call on the synchronous server, continuing the caller's `traceparent`."""
    return server_interceptor(filter_=_UNTRACED)  # type: ignore[no-any-return]


def tracing_aio_interceptor(blocking_streams: frozenset[str]) -> Any:
    """The same on a grpc.aio server, for its unary methods and async-generator streams.

    `blocking_streams` (method paths) are left out: grpc.aio runs those on its pool
    with grpc's own thread context, which the instrumentation's asynchronous context
    wrapper cannot stand in for (its `abort` is a coroutine)."""

    def traced(details: grpc.HandlerCallDetails) -> bool:
        return details.method not in blocking_streams and bool(_UNTRACED(details))

    return aio_server_interceptor(filter_=traced)


def traced_channel(channel: grpc.Channel) -> grpc.Channel:
    """`channel` with a client span per call and `traceparent` in its metadata."""
    # The instrumentation's interceptor is of its own kind, joined by its own helper.
    return intercept_channel(channel, client_interceptor(filter_=_UNTRACED))  # type: ignore[no-any-return]


def trace_engine(engine: Engine) -> Engine:
    """`engine` with a span per statement (the instrumentation's own engine tracer).

    Per engine rather than `SQLAlchemyInstrumentor().instrument()`: that one declares
    SQLAlchemy < 2.1 and also patches the asyncio engine, which needs greenlet; the
    engine events it listens to are the same in 2.1 (tests/e2e/test_tracing.py sees the
    statements' spans)."""
    EngineTracer(_sql_tracer, engine, _sql_connections)
    return engine
