"""A service started with `OTEL_EXPORTER_OTLP_ENDPOINT` exports its spans over OTLP/gRPC
to that collector (here a real one in the test, over a socket), named after the
service; the per-call span carries the method."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import types
from concurrent import futures
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver keeping what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.received = threading.Event()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        self.received.set()
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[str, str]]:
        """(service.name, span name) of everything received."""
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope in resource_spans.scope_spans:
                    out.extend((attributes.get("service.name", ""), s.name) for s in scope.spans)
        return out


def test_spans_go_to_the_configured_otlp_collector(
    compiled_protos: Path, probe: types.ModuleType, tmp_path: Path
) -> None:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PALMGRID_", "OTEL_"))},
        "PYTHONPATH": os.pathsep.join([str(compiled_protos), str(ROOT / "tests"), str(ROOT)]),
        "PALMGRID_DATA_DIR": str(tmp_path / "data"),
        "PALMGRID_GRPC_SECURITY": "plaintext",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "runtime" / "probe.py")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        address = next(
            json.loads(line)["address"]
            for line in process.stderr
            if json.loads(line)["message"] == "serving"
        )
        with grpc.insecure_channel(address) as channel:
            stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
            stub.Echo(probe.probe_pb2.EchoRequest(user_name="tracing"), timeout=10)
        assert collector.received.wait(timeout=20), "nothing was exported"
        process.send_signal(signal.SIGTERM)
        process.stderr.read()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.stop(None)
    assert ("probe", "/runtimetest.v1.ProbeService/Echo") in collector.spans()
