"""Waiting for a service process the test started to serve (grpc.health.v1)."""

from __future__ import annotations

import subprocess
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_serving(
    channel: grpc.Channel, process: subprocess.Popen[bytes], what: str, timeout: float = 60.0
) -> None:
    """Return once the server behind `channel` reports SERVING; fail when `process`
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    health = health_pb2_grpc.HealthStub(channel)
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited during start-up"
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not start")
