"""One phone request, one trace: the edge's span at the front, the service's gRPC span
as its child, the database statements under that, and the same trace id in the JSON log
lines of the edge and of the service (with the request id and the user, never the
token)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from clients.edge_client import EdgeClient
from edge.logs import request_fields
from palmlib.jsonlogs import JsonFormatter
from servers.runtime.logs import JsonFormatter as ServiceJsonFormatter
from tests.e2e.conftest import demo_customer
from tests.spans import by_trace, hex_id, recording


class Lines:
    """JSON log lines of one logger tree, formatted as its process formats them."""

    def __init__(self, logger: str, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger(logger)
        self.level = self.logger.level

    def __enter__(self) -> Lines:
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    with recording() as exporter:
        yield exporter


def _the(spans: list[ReadableSpan], match: Callable[[ReadableSpan], bool]) -> ReadableSpan:
    found = [s for s in spans if match(s)]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_one_request_is_one_trace_from_the_edge_to_the_database(
    spans: InMemorySpanExporter, new_customer: Callable[..., EdgeClient]
) -> None:
    client = new_customer(3)
    spans.clear()
    with (
        Lines("edge", JsonFormatter(request_fields)) as edge_lines,
        Lines("palmgrid", ServiceJsonFormatter()) as service_lines,
    ):
        reply = client.balance_reply(demo_customer(3))
    assert reply.headers["x-cache"] == "MISS"

    # The phone gets the trace's context back beside its request id.
    version, trace_id, edge_span_id, flags = reply.headers["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1, "the trace is sampled"
    request_id = reply.headers["x-request-id"]

    trace = by_trace(spans.get_finished_spans(), trace_id)
    assert trace, "no span of the returned trace was recorded"
    edge = _the(trace, lambda s: s.kind is SpanKind.SERVER and s.parent is None)
    assert edge.name == "GET /v1/{name=customers/*/balance}"
    assert hex_id(edge.context.span_id, 16) == edge_span_id
    assert edge.attributes is not None and edge.attributes["http.response.status_code"] == 200

    billing = _the(
        trace,
        lambda s: s.kind is SpanKind.SERVER and s.name.endswith("BillingService/GetBalance"),
    )
    assert billing.parent is not None and billing.parent.span_id == edge.context.span_id

    statements = [
        s
        for s in trace
        if s.kind is SpanKind.CLIENT and s.attributes and s.attributes.get("db.system") == "sqlite"
    ]
    assert statements, [s.name for s in trace]
    assert any(
        s.parent is not None and s.parent.span_id == billing.context.span_id for s in statements
    )
    # Memcached calls of the cache stage are in the same trace, one span per call.
    assert any(s.name.startswith("memcached ") for s in trace)

    edge_line = _the_line(edge_lines.records(), lambda r: r["message"] == "request")
    assert edge_line["trace_id"] == trace_id
    assert edge_line["request_id"] == request_id
    assert edge_line["user_id"].startswith("users/")
    assert edge_line["route"] == "/v1/{name=customers/*/balance}"

    service_line = _the_line(
        service_lines.records(),
        lambda r: r["message"] == "rpc" and r["method"].endswith("BillingService/GetBalance"),
    )
    assert service_line["trace_id"] == trace_id
    assert service_line["request_id"] == request_id
    assert service_line["user_id"] == edge_line["user_id"]
    token = client.token
    assert token and token not in edge_lines.stream.getvalue() + service_lines.stream.getvalue()


def _the_line(
    records: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    found = [r for r in records if match(r)]
    assert len(found) == 1, records
    return found[0]


def test_a_call_on_the_grpc_aio_server_is_traced_down_to_its_statements(
    spans: InMemorySpanExporter, client_for: Callable[..., EdgeClient]
) -> None:
    # Outage serves on grpc.aio: its blocking methods run on a pool, in the call's context.
    client = client_for()
    spans.clear()
    with Lines("palmgrid", ServiceJsonFormatter()) as service_lines:
        reply = client.send("GET", "/v1/outages/demo-planned-1")
    trace_id = reply.headers["traceparent"].split("-")[1]
    trace = by_trace(spans.get_finished_spans(), trace_id)
    edge = _the(trace, lambda s: s.kind is SpanKind.SERVER and s.parent is None)
    outage = _the(
        trace, lambda s: s.kind is SpanKind.SERVER and s.name.endswith("OutageService/GetOutage")
    )
    assert outage.parent is not None and outage.parent.span_id == edge.context.span_id
    assert any(
        s.parent is not None
        and s.parent.span_id == outage.context.span_id
        and s.attributes is not None
        and s.attributes.get("db.system") == "sqlite"
        for s in trace
    ), [s.name for s in trace]
    line = _the_line(
        service_lines.records(),
        lambda r: r["message"] == "rpc" and r["method"].endswith("OutageService/GetOutage"),
    )
    assert line["trace_id"] == trace_id
