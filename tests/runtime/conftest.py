"""Fixtures for the runtime tests: the probe protos compiled at test time, identity
keys, a dev PKI, and probe servers on port 0 with real channels."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_tools import protoc

from servers.runtime import AssertionSigner, AssertionVerifier, AuditSink, create_server
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.devcerts import DevPki, ensure_dev_pki
from servers.runtime.identity import ensure_key_pair, generate_private_key
from servers.runtime.settings import ServiceAccount
from tools.codegen import (
    PROTOS,
    googleapis_include,
    protobuf_include,
    write_validate_descriptor_set,
)

HERE = Path(__file__).parent
TEST_PROTOS = HERE / "protos"


def compile_protos(out: Path) -> None:
    """Compile tests/runtime/protos into `out` (importable as `runtimetest.v1`)."""
    validate_set = out / "validate.binpb"
    write_validate_descriptor_set(validate_set)
    sources = [str(p.relative_to(TEST_PROTOS)) for p in TEST_PROTOS.rglob("*.proto")]
    code = protoc.main(
        [
            "protoc",
            f"-I{TEST_PROTOS}",
            f"-I{PROTOS}",
            f"-I{googleapis_include()}",
            f"-I{protobuf_include()}",
            f"--descriptor_set_in={validate_set}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *sources,
        ]
    )
    assert code == 0, "protoc failed on the test protos"


@pytest.fixture(scope="session")
def compiled_protos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("protos")
    compile_protos(out)
    sys.path.insert(0, str(out))
    return out


@pytest.fixture(scope="session")
def probe(compiled_protos: Path) -> types.ModuleType:
    """The probe service module (tests/runtime/probe.py), importable once compiled."""
    return importlib.import_module("runtime.probe")


@pytest.fixture(scope="session")
def identity_key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="session")
def signer(identity_key: Ed25519PrivateKey) -> AssertionSigner:
    return AssertionSigner(identity_key, "k1")


@pytest.fixture(scope="session")
def verifier(identity_key: Ed25519PrivateKey) -> AssertionVerifier:
    return AssertionVerifier({"k1": identity_key.public_key()}, audience="probe")


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("tls"))


@dataclass
class Running:
    """A started probe server."""

    server: Any
    port: int
    servicer: Any

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


StartProbe = Callable[..., Running]


@pytest.fixture(params=["sync", "aio"])
def start_probe(
    request: pytest.FixtureRequest, probe: types.ModuleType, verifier: AssertionVerifier
) -> Iterator[StartProbe]:
    """Start probe servers; every one is stopped after the test. Each test runs on the
    synchronous server, then on the grpc.aio one (its Count an async generator): the
    pipeline must behave the same on both."""
    started: list[Running] = []
    on_aio = request.param == "aio"

    def start(
        *,
        credentials: grpc.ServerCredentials | None = None,
        service_accounts: Mapping[str, ServiceAccount] | None = None,
        max_workers: int = 4,
        audit_sink: AuditSink | None = None,
        audit_outbox: AuditOutbox | None = None,
    ) -> Running:
        servicer = probe.AsyncProbeServicer() if on_aio else probe.ProbeServicer()
        server, port = create_server(
            probe.registrations(servicer),
            domain="probe",
            credentials=credentials,
            verifier=verifier,
            service_accounts=service_accounts,
            max_workers=max_workers,
            audit_sink=audit_sink,
            audit_outbox=audit_outbox,
            async_streams=on_aio,
        )
        server.start()
        running = Running(server, port, servicer)
        started.append(running)
        return running

    yield start
    for running in started:
        running.server.stop(0)


@pytest.fixture
def running(start_probe: StartProbe) -> Running:
    return start_probe()


@pytest.fixture
def channel(running: Running) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(running.target) as channel:
        yield channel


@pytest.fixture
def stub(probe: types.ModuleType, channel: grpc.Channel) -> Any:
    return probe.probe_pb2_grpc.ProbeServiceStub(channel)


def production_environment(directory: Path, accounts: tuple[str, ...] = ()) -> dict[str, str]:
    """`PALMGRID_*` of a production deployment whose certificates (client ones for
    `accounts`) and identity key an operator provisioned as files under `directory`."""
    pki = ensure_dev_pki(directory / "pki", accounts=accounts, ca_name="Utility operations CA")
    ensure_key_pair(directory / "keys", "2026-01")
    return {
        "PALMGRID_PROFILE": "production",
        "PALMGRID_DATA_DIR": str(directory / "data"),
        "PALMGRID_TLS_CERT_FILE": str(pki.server_cert),
        "PALMGRID_TLS_KEY_FILE": str(pki.server_key),
        "PALMGRID_TLS_CA_FILE": str(pki.ca_cert),
        "PALMGRID_IDENTITY_KEYS_DIR": str(directory / "keys"),
        "PALMGRID_IDENTITY_KEY_ID": "2026-01",
        "PALMGRID_MEMCACHED_SERVERS": "cache-0:11211,cache-1:11211",
    }
