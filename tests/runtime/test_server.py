"""The server: health checking (its database's too), graceful shutdown, and `serve(spec)` as a
real process stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from runtime.conftest import Running
from runtime.statuses import error_info
from servers.runtime import Registration, Unimplemented, create_engine, create_server
from servers.runtime.declared import declared_only
from servers.runtime.health import DATABASE, database_probe
from servers.runtime.methods import ContractError
from tools.ports import free_port

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
PROBE = "runtimetest.v1.ProbeService"
ROOT = Path(__file__).resolve().parents[2]


def _health(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    status: int = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status
    return status


def test_every_service_and_the_server_report_serving(channel: grpc.Channel) -> None:
    assert _health(channel, PROBE) == SERVING
    assert _health(channel, "") == SERVING


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=2))
    names = {s.name for s in reply.list_services_response.service}
    assert {PROBE, "grpc.health.v1.Health"} <= names
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=PROBE)
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=2))
    assert reply.file_descriptor_response.file_descriptor_proto


def test_shutdown_reports_not_serving_and_drains_in_flight_calls(
    running: Running, probe: types.ModuleType
) -> None:
    with grpc.insecure_channel(running.target) as channel:
        stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
        in_flight: list[Any] = []
        caller = threading.Thread(
            target=lambda: in_flight.append(
                stub.Sleep(probe.pb2.SleepRequest(millis=500, tag="slow"), timeout=5)
            )
        )
        caller.start()
        while "slow" not in running.servicer.started:
            time.sleep(0.01)
        stopper = threading.Thread(target=lambda: running.server.stop(5, drain=0.3))
        stopper.start()
        time.sleep(0.1)
        # During the drain the server still answers, but says it is going away.
        assert _health(channel, PROBE) == NOT_SERVING
        assert _health(channel, "") == NOT_SERVING
        caller.join()
        stopper.join()
        assert [r.tag for r in in_flight] == ["slow"]
        with pytest.raises(grpc.RpcError):
            _health(channel, "")


def test_method_without_access_rules_is_refused_at_start() -> None:
    # grpc.health.v1.Health declares no (palmgrid.options.v1.method) access rules.
    registration = Registration(
        "grpc.health.v1.Health",
        health.HealthServicer(),
        health_pb2_grpc.add_HealthServicer_to_server,
    )
    with pytest.raises(ContractError, match="declares neither"):
        create_server([registration], domain="probe")


def test_rpc_left_to_the_generated_base_class_is_refused_at_start(
    probe: types.ModuleType,
) -> None:
    # ProbeServicer does not build Later; only servers.runtime.declared may leave it unbuilt.
    bare = Registration(
        PROBE, probe.ProbeServicer(), probe.probe_pb2_grpc.add_ProbeServiceServicer_to_server
    )
    with pytest.raises(ContractError, match="leaves Later to grpc's generated base"):
        create_server([bare], domain="probe")


def test_declared_keeps_the_built_methods_and_answers_the_others(
    probe: types.ModuleType,
) -> None:
    servicer = probe.ProbeServicer()
    (registration,) = probe.registrations(servicer)
    assert registration.servicer.Echo == servicer.Echo
    with pytest.raises(Unimplemented, match=r"runtimetest\.v1\.ProbeService\.Later "):
        registration.servicer.Later(probe.pb2.LaterRequest(), None)


def test_declared_only_service_answers_unimplemented_through_the_runtime(
    probe: types.ModuleType,
) -> None:
    server, port = create_server([declared_only(probe.probe_pb2_grpc, PROBE)], domain="probe")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.Echo(probe.pb2.EchoRequest(user_name="Palmgrid"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert error_info(caught.value).reason == "NOT_IMPLEMENTED"
        assert error_info(caught.value).domain == "probe.palmgrid"
    finally:
        server.stop(0)


def test_unknown_service_name_is_refused_at_start(probe: types.ModuleType) -> None:
    (registration,) = probe.registrations()
    misspelt = Registration(
        "runtimetest.v1.ProbeServise", registration.servicer, registration.add_to_server
    )
    with pytest.raises(ContractError, match="unknown"):
        create_server([misspelt], domain="probe")


def test_a_port_in_use_is_refused(running: Running, probe: types.ModuleType) -> None:
    with pytest.raises(OSError, match="cannot bind"):
        create_server(probe.registrations(), domain="probe", address=running.target)


def test_serve_runs_until_sigterm(compiled_protos: Path, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")},
        "PYTHONPATH": os.pathsep.join([str(compiled_protos), str(ROOT / "tests"), str(ROOT)]),
        "PALMGRID_DATA_DIR": str(tmp_path / "data"),
        "PALMGRID_GRPC_SECURITY": "plaintext",
        "PALMGRID_SHUTDOWN_GRACE_SECONDS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "runtime" / "probe.py")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        serving = None
        for line in process.stderr:
            record = json.loads(line)
            if record["message"] == "serving":
                serving = record
                break
        assert serving is not None, "the service never logged its address"
        assert serving["service"] == "probe"
        with grpc.insecure_channel(serving["address"]) as channel:
            assert _health(channel, PROBE) == SERVING
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=10) == 0
        messages = [json.loads(line)["message"] for line in rest.splitlines()]
        assert messages[-2:] == ["stopping", "stopped"]
        assert (tmp_path / "data" / "probe.db").exists()
        assert list((tmp_path / "data" / "identity").glob("*.pub"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_database_is_checked_when_asked(probe: types.ModuleType, tmp_path: Path) -> None:
    # A SQLite file answers; a PostgreSQL server nobody listens for does not.
    reachable = create_engine(f"sqlite:///{tmp_path / 'here.db'}")
    gone = create_engine(f"postgresql+psycopg://palm@127.0.0.1:{free_port()}/nothing")
    for engine, expected in ((reachable, SERVING), (gone, NOT_SERVING)):
        server, port = create_server(
            probe.registrations(),
            domain="probe",
            dependencies={DATABASE: database_probe(engine)},
        )
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert _health(channel, DATABASE) == expected
                assert _health(channel, "") == SERVING  # what load balancers ask
        finally:
            server.stop(0)
            engine.dispose()
