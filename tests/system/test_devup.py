"""`./dev up` brings the whole system up: every service and the worker's jobs API
SERVING over mTLS, listed by reflection, and everything stopped cleanly on Ctrl-C."""

from __future__ import annotations

import importlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from sqlalchemy.exc import OperationalError

from servers.devup import DEMO_TOTP_SECRET
from servers.runtime import SYSTEM_CLOCK, create_engine
from servers.runtime.settings import GRPC_SERVER_NAMES, Settings
from servers.worker.status import JobStatus, job_statuses
from tools.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0


def _services_of(name: str) -> list[str]:
    """Full names of the gRPC services the process `name` serves, from its contract."""
    prefix = f"palmgrid.{name}.v1."
    found = []
    for path in sorted((ROOT / "generated" / "palmgrid" / name / "v1").glob("*_service_pb2.py")):
        module = importlib.import_module(f"palmgrid.{name}.v1.{path.stem}")
        found += [s.full_name for s in module.DESCRIPTOR.services_by_name.values()]
    assert found and all(n.startswith(prefix) for n in found)
    return found


@pytest.fixture(scope="module")
def dev_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, list[str]]]:
    data_dir = tmp_path_factory.mktemp("palmgrid")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")}
    env["PALMGRID_DATA_DIR"] = str(data_dir)
    for name in GRPC_SERVER_NAMES:
        env[f"PALMGRID_{name.upper()}_PORT"] = str(free_port())
    env["PALMGRID_EDGE_PORT"] = str(free_port())
    env["PALMGRID_MEMCACHED_SERVERS"] = f"127.0.0.1:{free_port()}"
    env["PALMGRID_PAYMENT_PROVIDER_URL"] = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "servers.devup"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Ctrl-C stops everything"):
            break
    if not any(line.startswith("PalmGrid is up") for line in lines):
        process.kill()
        pytest.fail("./dev up did not come up:\n" + "\n".join(lines))
    settings = Settings(
        data_dir=data_dir,
        edge_port=int(env["PALMGRID_EDGE_PORT"]),
        **{f"{n}_port": int(env[f"PALMGRID_{n.upper()}_PORT"]) for n in GRPC_SERVER_NAMES},
    )
    yield settings, lines
    process.send_signal(signal.SIGINT)
    try:
        remaining, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("./dev up did not stop within 30 s of Ctrl-C")
    assert process.returncode == 0, remaining


def _channel(settings: Settings, name: str) -> grpc.Channel:
    credentials = settings.client_credentials("cli")
    assert credentials is not None, "the dev profile serves gRPC over mTLS"
    return grpc.secure_channel(settings.service_address(name), credentials)


@pytest.mark.parametrize("name", GRPC_SERVER_NAMES)
def test_every_service_is_serving(dev_system: tuple[Settings, list[str]], name: str) -> None:
    settings, _ = dev_system
    with _channel(settings, name) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", *_services_of(name)]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


@pytest.mark.parametrize("name", GRPC_SERVER_NAMES)
def test_reflection_lists_the_service(dev_system: tuple[Settings, list[str]], name: str) -> None:
    settings, _ = dev_system
    with _channel(settings, name) as channel:
        listed = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert set(_services_of(name)) <= listed
    assert "grpc.health.v1.Health" in listed


def test_summary_names_addresses_and_credentials(dev_system: tuple[Settings, list[str]]) -> None:
    settings, lines = dev_system
    text = "\n".join(lines)
    for name in GRPC_SERVER_NAMES:
        assert settings.service_address(name) in text
    assert str(settings.tls_dir / "ca.pem") in text
    assert "Palm-dev-2026!" in text
    # The demo staff's second factor, and where the console is.
    assert f"TOTP secret {DEMO_TOTP_SECRET}" in text
    assert f"https://{settings.edge_host}:{settings.edge_port}/console/" in text


def test_edge_answers_over_https_with_the_dev_ca(dev_system: tuple[Settings, list[str]]) -> None:
    settings, _ = dev_system
    base = f"https://{settings.edge_host}:{settings.edge_port}"
    with httpx.Client(
        base_url=base, verify=ssl.create_default_context(cafile=str(settings.ca_file)), timeout=10
    ) as client:
        health = client.get("/healthz")
        assert health.status_code == 200, health.text
        openapi = client.get("/openapi.json")
        assert openapi.status_code == 200
        assert "/v1/customers/{customer}/monthlyUsage" in str(openapi.json()["paths"])
        # The console, from the repository's clients/console, with its own policy.
        console = client.get("/console/")
        assert console.status_code == 200
        assert "script-src 'self'" in console.headers["content-security-policy"]


def _first_run(settings: Settings, job: str, timeout: float = 60) -> JobStatus:
    """The status of `job` once the worker has run it."""
    engine = create_engine(settings.database_url_for("worker"))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                statuses = {s.name: s for s in job_statuses(engine, SYSTEM_CLOCK.now())}
            except OperationalError:  # the worker has not created its tables yet
                statuses = {}
            found = statuses.get(job)
            if found is not None and found.run_count:
                return found
            assert time.monotonic() < deadline, f"the worker did not run {job}"
            time.sleep(0.5)
    finally:
        engine.dispose()


def test_the_worker_runs_its_jobs_against_the_services(
    dev_system: tuple[Settings, list[str]],
) -> None:
    settings, lines = dev_system
    assert any(line.split()[:1] == ["worker"] for line in lines)
    housekeeping = _first_run(settings, "account.housekeeping")
    # Over mTLS as the worker's service account, the account service did the work.
    assert housekeeping.last_outcome == "OK", housekeeping.last_message


def test_the_demo_staging_database_is_imported_with_its_bad_rows_quarantined(
    dev_system: tuple[Settings, list[str]],
) -> None:
    settings, _ = dev_system
    imported = _first_run(settings, "ingest.import", timeout=180)
    assert imported.last_outcome == "OK", imported.last_message
    assert imported.last_message.startswith(
        "customers: 100 read, 97 applied, 0 unchanged, 3 quarantined"
    ), imported.last_message
