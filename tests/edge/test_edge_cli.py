"""`python -m edge serve`: the same edge fronting a service it has never seen, from a
descriptor set alone, over plain HTTP and over HTTPS."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from openapi_spec_validator import validate

from tests.edge.edge_protos import Compiled, compile_protos
from tools.ports import free_port

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def weather(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return compile_protos("weather/v1", tmp_path_factory.mktemp("weather"))


@pytest.fixture(scope="module")
def weather_port(weather: Compiled) -> Iterator[int]:
    weather_service_pb2 = weather.messages("weather.v1")

    class Weather:
        def GetForecast(self, request: Any, context: grpc.ServicerContext) -> Any:
            forecast = weather_service_pb2.Forecast(
                city=request.city, highs=[215 + 5 * i for i in range(request.days)]
            )
            forecast.issue_time.FromSeconds(1_714_550_400)
            return forecast

        def ReportObservation(self, request: Any, context: grpc.ServicerContext) -> Any:
            return request

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (weather.service_handler("weather.v1.WeatherService", Weather()),)
    )
    checker = health.HealthServicer()
    checker.set("weather.v1.WeatherService", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(grace=None)


class EdgeProcess:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "serve", "--listen", f"127.0.0.1:{self.port}", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise AssertionError(f"edge exited with {self.proc.returncode}: {output}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("edge did not start listening")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_cli_fronts_a_service_it_has_never_seen(weather: Compiled, weather_port: int) -> None:
    edge = EdgeProcess(
        "--descriptor-set",
        str(weather.descriptor_set),
        "--upstream",
        f"weather.v1.WeatherService=127.0.0.1:{weather_port}",
        "--plaintext",
        "--upstream-plaintext",
        "--default-policy",
        "public",
    )
    try:
        edge.wait_listening()
        with httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=10) as http:
            r = http.get("/v1/cities/paris/forecast?days=3")
            assert r.status_code == 200, r.text
            assert r.json() == {
                "city": "cities/paris",
                "highs": ["215", "220", "225"],
                "issueTime": "2024-05-01T08:00:00Z",
            }
            r = http.post("/v1/cities/oslo/observations", json={"temperature": -52})
            assert r.json() == {"city": "cities/oslo", "temperature": -52}
            assert http.get("/healthz").json()["services"] == {
                "weather.v1.WeatherService": "SERVING"
            }
            document = http.get("/openapi.json").json()
            validate(document)
            assert document["paths"]["/v1/cities/{city}/forecast"]["get"]["summary"] == (
                "Gets the forecast for a city"
            )
    finally:
        edge.stop()


def _public_weather_edge(weather: Compiled, upstream: str, *args: str) -> EdgeProcess:
    """The edge fronting the weather service at `upstream`, plain HTTP and gRPC."""
    return EdgeProcess(
        "--descriptor-set",
        str(weather.descriptor_set),
        "--upstream",
        f"weather.v1.WeatherService={upstream}",
        "--plaintext",
        "--upstream-plaintext",
        "--default-policy",
        "public",
        *args,
    )


def test_an_upstream_with_a_replica_down_answers_every_request(
    weather: Compiled, weather_port: int
) -> None:
    # Two replicas listed, one of them not running: calls go round robin over the
    # replicas that are up, so none fails.
    down = free_port()
    edge = _public_weather_edge(weather, f"127.0.0.1:{down},127.0.0.1:{weather_port}")
    try:
        edge.wait_listening()
        with httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=10) as http:
            statuses = [http.get("/v1/cities/paris/forecast?days=1").status_code for _ in range(20)]
        assert statuses == [200] * 20
    finally:
        edge.stop()


def test_sigterm_drains_then_stops(weather: Compiled, weather_port: int) -> None:
    edge = _public_weather_edge(weather, f"127.0.0.1:{weather_port}", "--drain-seconds", "2")
    try:
        edge.wait_listening()
        with httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=10) as http:
            assert http.get("/healthz").status_code == 200
            edge.proc.terminate()
            time.sleep(0.3)
            # Draining: the load balancer's check fails, requests are still served.
            health = http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["status"] == "DRAINING"
            assert http.get("/v1/cities/paris/forecast?days=1").status_code == 200
        assert edge.proc.wait(timeout=15) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{edge.port}/healthz", timeout=2)
    finally:
        if edge.proc.poll() is None:
            edge.stop()


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "edge.pem", tmp / "edge.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_cli_serves_https_with_configured_certificates(
    weather: Compiled, weather_port: int, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    edge = EdgeProcess(
        "--descriptor-set",
        str(weather.descriptor_set),
        "--upstream",
        f"weather.v1.WeatherService=127.0.0.1:{weather_port}",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--upstream-plaintext",
    )
    try:
        edge.wait_listening()
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://127.0.0.1:{edge.port}", verify=context) as http:
            # No --default-policy: deny, so a service without our options answers 403.
            r = http.get("/v1/cities/paris/forecast")
            assert r.status_code == 403
            assert http.get("/healthz").status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{edge.port}/healthz", timeout=5)
    finally:
        edge.stop()


def test_cli_refuses_https_without_certificates(weather: Compiled, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "serve",
            "--descriptor-set",
            str(weather.descriptor_set),
            "--upstream",
            "weather.v1.WeatherService=127.0.0.1:1",
            "--tls-cert",
            str(tmp_path / "missing.pem"),
            "--tls-key",
            str(tmp_path / "missing.key"),
            "--upstream-plaintext",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TLS file not found" in result.stderr


def test_cli_refuses_an_upstream_for_an_unknown_service(weather: Compiled) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "serve",
            "--descriptor-set",
            str(weather.descriptor_set),
            "--upstream",
            "nowhere.v1.Nothing=127.0.0.1:1",
            "--plaintext",
            "--upstream-plaintext",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nowhere.v1.Nothing" in result.stderr
