"""`./dev up`: the whole PalmGrid system on one machine, in the dev profile.

Starts a local Memcached, every service as its own process, the worker (once the
services serve; it serves its jobs API on its own port) and the edge; generates a dev
CA and certificates under the data directory; waits until every service answers its
health check; prints addresses and credentials; stops everything cleanly on Ctrl-C.
Re-running it reuses the data directory (`PALMGRID_DATA_DIR`, default `./.palmgrid`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pyotp
from grpc_health.v1 import health_pb2, health_pb2_grpc

import palmgrid
from palmgrid.options.v1 import options_pb2
from servers.billing.payments.settings import load_payment_settings
from servers.notification.config import NotificationConfig
from servers.runtime import devcerts
from servers.runtime.settings import SERVICE_NAMES, Settings, load_settings
from tools import memcached

DESCRIPTOR_SET = Path(palmgrid.__path__[0]) / "descriptors.binpb"
EDGE_READY_TIMEOUT = 30.0
# A service seeds its demo data before it serves: on a busy machine that takes minutes.
SERVICE_READY_TIMEOUT = 180.0
# The demo staff's second-factor secret (base32), printed at start-up so that a newcomer
# can add it to an authenticator app and sign in to the console. Dev profile only.
DEMO_TOTP_SECRET = "PALMGRIDDEMOSTAFFTOTPSECRET23456"


def routed_services() -> list[tuple[str, str]]:
    """(process, full service name) of every service the edge fronts: all but internal."""
    found = []
    for info in pkgutil.walk_packages(palmgrid.__path__, "palmgrid."):
        if not info.name.endswith("_service_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            if not service.GetOptions().Extensions[options_pb2.service].internal:
                found.append((service.full_name.split(".")[1], service.full_name))
    return sorted(found)


@dataclass
class Child:
    """One process started by `./dev up`, with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    address: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.process.poll() is None


def _spawn(name: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log = log_path.open("ab")
    # start_new_session: Ctrl-C reaches only us; we stop the children in order.
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Child(name, process, log_path)


def wait_serving(address: str, credentials: grpc.ChannelCredentials | None, timeout: float) -> None:
    """Block until the gRPC server at address reports SERVING for "" (the whole server)."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        channel = (
            grpc.secure_channel(address, credentials)
            if credentials
            else grpc.insecure_channel(address)
        )
        try:
            with channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last_error = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as exc:
            last_error = exc.code().name
        time.sleep(0.2)
    raise TimeoutError(f"{address} not SERVING after {timeout:.0f}s ({last_error})")


def stop_children(children: list[Child], grace: float = 10.0) -> None:
    """SIGTERM every child (newest first), then SIGKILL whoever outlives the grace."""
    for child in reversed(children):
        if child.alive():
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in reversed(children):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def edge_tls_args(settings: Settings, listen: str) -> list[str]:
    """`python -m edge serve` arguments for PalmGrid's descriptors on `listen`, with the
    settings' HTTPS certificate and its `edge` client certificate to the services."""
    cert, key = settings.client_cert_files("edge")
    return [
        "--descriptor-set",
        str(DESCRIPTOR_SET),
        "--listen",
        listen,
        "--tls-cert",
        str(settings.server_cert_file),
        "--tls-key",
        str(settings.server_key_file),
        "--upstream-ca",
        str(settings.ca_file),
        "--upstream-cert",
        str(cert),
        "--upstream-key",
        str(key),
    ]


class System:
    """The running dev system: Memcached, services, edge."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.memcached: memcached.MemcachedProcess | None = None

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PALMGRID_PROFILE"] = self.settings.profile
        env["PALMGRID_DATA_DIR"] = str(self.settings.data_dir)
        env["PALMGRID_DEV_TOTP_SECRET"] = self.totp_secret
        return env

    @property
    def totp_secret(self) -> str:
        """The demo staff's second-factor secret: DEMO_TOTP_SECRET unless
        PALMGRID_DEV_TOTP_SECRET chooses another, or none when set empty."""
        if "dev_totp_secret" in self.settings.model_fields_set:
            return self.settings.dev_totp_secret or ""
        return DEMO_TOTP_SECRET

    def start(self) -> None:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        devcerts.ensure_dev_pki(self.settings.tls_dir)
        logs = data_dir / "logs"
        self.memcached = memcached.start(
            port=self.settings.memcached_port, host=self.settings.memcached_host
        )
        env = self.child_env()
        credentials = self.settings.client_credentials("cli")
        # The payment provider and the SMS and push gateways lie outside the utility:
        # their sandboxes stand in for them and must listen before billing places (or
        # recovers) any order and the notification service sends anything. Each reads
        # the same settings as the service that calls it, so their addresses agree.
        self._start_sandbox(
            "payment-sandbox",
            "servers.billing.payments.sandbox",
            load_payment_settings(self.settings).provider_url,
            env,
            logs,
        )
        self._start_sandbox(
            "notification-sandbox",
            "servers.notification.sandbox",
            NotificationConfig.load().sms_gateway_url,
            env,
            logs,
        )
        sandboxes = len(self.children)
        for name in SERVICE_NAMES:
            child = _spawn(name, [sys.executable, "-m", f"servers.{name}"], env, logs)
            child.address = self.settings.service_address(name)
            self.children.append(child)
        for child in self.children[sandboxes:]:
            try:
                wait_serving(child.address, credentials, SERVICE_READY_TIMEOUT)
            except TimeoutError as exc:
                raise TimeoutError(f"{child.name}: {exc}; see {child.log_path}") from None
        # The worker calls the services, so it starts once they all serve; it serves
        # its jobs API (palmgrid.worker.v1) itself, which the edge routes too.
        worker = _spawn("worker", [sys.executable, "-m", "servers.worker"], env, logs)
        worker.address = self.settings.service_address("worker")
        self.children.append(worker)
        wait_serving(worker.address, credentials, SERVICE_READY_TIMEOUT)
        if importlib.util.find_spec("edge.__main__") is None:
            return  # the edge is not built yet
        edge = _spawn("edge", [sys.executable, "-m", "edge", "serve", *self.edge_args()], env, logs)
        edge.address = f"https://{self.settings.edge_host}:{self.settings.edge_port}"
        self.children.append(edge)
        memcached.wait_for_port(
            self.settings.edge_host, self.settings.edge_port, EDGE_READY_TIMEOUT
        )

    def _start_sandbox(
        self, name: str, module: str, url: str, env: dict[str, str], logs: Path
    ) -> None:
        address = urlsplit(url)
        child = _spawn(name, [sys.executable, "-m", module], env, logs)
        child.address = f"http://{address.hostname}:{address.port}"
        self.children.append(child)
        memcached.wait_for_port(str(address.hostname), int(address.port or 80), 30.0)

    def edge_args(self) -> list[str]:
        """The edge's command line: PalmGrid's descriptors, every routed service, dev TLS."""
        s = self.settings
        args = edge_tls_args(s, f"{s.edge_host}:{s.edge_port}")
        for process, service in routed_services():
            args += ["--upstream", f"{service}={s.service_address(process)}"]
        return args

    def stop(self) -> None:
        stop_children(self.children)
        if self.memcached:
            self.memcached.stop()

    def summary(self) -> str:
        s = self.settings
        lines = [
            "PalmGrid is up (profile dev)",
            f"  data directory  {s.data_dir}",
            f"  dev CA          {s.tls_dir / 'ca.pem'}",
            f"  memcached       {self.memcached.address if self.memcached else '-'}",
        ]
        lines += [f"  {c.name:<15} {c.address}  (log {c.log_path})" for c in self.children]
        lines += [
            f"  staff users     admin, dispatcher, expander, inspector, agent, editor"
            f" / password {s.dev_password}",
            *self._second_factor_lines(),
            "  demo customers  3100000001 … 3100001000 (verification: last four digits)",
            "  staff CLI       ./dev palm login dispatcher  (docs/cli.md)",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    def _second_factor_lines(self) -> list[str]:
        if not self.totp_secret:
            return []
        uri = pyotp.TOTP(self.totp_secret).provisioning_uri(name="staff", issuer_name="PalmGrid")
        return [
            f"  second factor   TOTP secret {self.totp_secret} (every demo staff user;",
            f"                  {uri})",
            f"  web console     https://{self.settings.edge_host}:{self.settings.edge_port}/console/",
        ]

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)


def main() -> int:
    settings = load_settings()
    if settings.profile != "dev":
        print("./dev up runs the dev profile only; unset PALMGRID_PROFILE", file=sys.stderr)
        return 2
    system = System(settings)
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        system.start()
        print(system.summary(), flush=True)
        while not stopping:
            dead = system.first_dead()
            if dead:
                print(f"{dead.name} exited ({dead.process.returncode}); see {dead.log_path}")
                return 1
            time.sleep(0.5)
        return 0
    except (TimeoutError, memcached.MemcachedUnavailable) as exc:
        print(f"./dev up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping PalmGrid…", flush=True)
        system.stop()


if __name__ == "__main__":
    raise SystemExit(main())
