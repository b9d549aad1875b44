"""Tracing set-up shared by every PalmGrid process (the edge, the services, the worker),
and the one shape of their latency histograms.

Nothing is exported unless the standard OpenTelemetry variables ask for it:
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns on an
SDK tracer provider whose spans go over OTLP/gRPC in batches; `OTEL_SERVICE_NAME`,
`OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES` and the exporter's own variables work
as the specification says, and `OTEL_SDK_DISABLED=true` wins over all. Without them the
API's no-op provider stays: spans cost a context lookup and are never recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from opentelemetry import trace
from prometheus_client import Histogram

__all__ = ["configure_tracing", "latency_histogram", "traceparent", "tracing_requested"]

# Seconds; the latency histograms of the edge's routes and the services' RPCs share them.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def latency_histogram(name: str, documentation: str, labels: Sequence[str]) -> Histogram:
    """A Prometheus histogram of seconds with PalmGrid's latency buckets."""
    return Histogram(name, documentation, list(labels), buckets=_LATENCY_BUCKETS)


_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment asks for spans to be exported over OTLP."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINTS)


def configure_tracing(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install the OTLP-exporting tracer provider when requested; True when installed.

    `service_name` is the default `service.name` (`OTEL_SERVICE_NAME` overrides it)."""
    if not tracing_requested(environ):
        return False
    # Imported here: a process that exports nothing never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service_name})
    if environ.get("OTEL_SERVICE_NAME"):
        resource = Resource.create({"service.name": environ["OTEL_SERVICE_NAME"]})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def traceparent(span: trace.Span | None = None) -> str:
    """The W3C `traceparent` of `span` (the current one by default), or "" when it has
    no valid context (tracing off and no trace continued)."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
