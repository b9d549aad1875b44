"""The system bench.edge_cache measures: account, billing and care as their own
processes, Memcached, the secure edge on a CPU of its own, and the bare transcoder it
is compared with."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadResult, free_port, run_wrk, wait_listening
from bench.processes import BASELINE_PATH, ROOT, Child, before_upstream, tree_env
from clients.edge_client import EdgeClient
from servers.billing.config import BillingConfig
from servers.billing.service import BillingServicer
from servers.billing.service import make_spec as billing_spec
from servers.runtime import SYSTEM_CLOCK, Settings, build_server
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from tools import memcached

DESCRIPTORS = ROOT / "generated" / "palmgrid" / "descriptors.binpb"
CAPTCHA = "BENCH1"
ADMIN_PASSWORD = "Palm-dev-2026!"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Running:
    url: str
    token: str
    billing: BillingServicer
    memcached: memcached.MemcachedProcess
    data_dir: Path
    env: dict[str, str]
    upstreams: dict[str, int]  # service → port, on 127.0.0.1
    stop: Callable[[], None]


def backend_cpus() -> set[int] | None:
    """Where what the edge calls runs (services, Memcached, upstreams) and wrk: CPU 1,
    leaving CPU 0 to the edge; None (anywhere) on a single core."""
    return {1} if (os.cpu_count() or 1) >= 2 else None


def _service(name: str, env: dict[str, str], cpus: set[int] | None, port: int) -> Child:
    child = Child(
        [sys.executable, "-m", f"servers.{name}"],
        env,
        cpus,
        Path(env["PALMGRID_DATA_DIR"]) / f"{name}.log",
    )
    wait_listening(port, child.proc, timeout=120)
    return child


def start(database_url: str, data_dir: Path) -> Running:
    """Account, billing and care as their own processes (as deployed), Memcached, the
    edge."""
    ensure_dev_pki(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    account_port, billing_port, care_port = free_port(), free_port(), free_port()
    # The edge gets CPU 0 to itself; Memcached and the services share CPU 1 with wrk (as
    # the bare transcoder's and grpc-gateway's upstreams do).
    services = backend_cpus()
    node = memcached.start(memory_mb=1024, cpus=services)
    env = {
        **os.environ,
        "PALMGRID_PROFILE": "dev",
        "PALMGRID_DATA_DIR": str(data_dir),
        "PALMGRID_LOG_LEVEL": "WARNING",
        "PALMGRID_DEV_CAPTCHA": CAPTCHA,
        "PALMGRID_ACCOUNT_DATABASE_URL": f"sqlite:///{data_dir / 'account.db'}",
        "PALMGRID_BILLING_DATABASE_URL": database_url,
        "PALMGRID_BILLING_DEMO_DATA": "0",
        "PALMGRID_CARE_DATABASE_URL": f"sqlite:///{data_dir / 'care.db'}",
        "PALMGRID_ACCOUNT_PORT": str(account_port),
        "PALMGRID_BILLING_PORT": str(billing_port),
        "PALMGRID_CARE_PORT": str(care_port),
        "PALMGRID_ACCOUNT_TARGET": f"127.0.0.1:{account_port}",
        "PALMGRID_BILLING_TARGET": f"127.0.0.1:{billing_port}",
        "PALMGRID_ACCOUNT_ARGON2_TIME_COST": "1",
        "PALMGRID_ACCOUNT_ARGON2_MEMORY_KIB": "1024",
        "PALMGRID_ACCOUNT_ARGON2_PARALLELISM": "1",
        "PALMGRID_MEMCACHED_SERVERS": node.address,
    }
    children = [
        _service("billing", env, services, billing_port),
        _service("account", env, services, account_port),
        _service("care", env, services, care_port),
    ]
    upstreams = {
        "palmgrid.account.v1.AccountService": account_port,
        "palmgrid.billing.v1.BillingService": billing_port,
        "palmgrid.care.v1.CareService": care_port,
    }
    edge, url = start_edge(env, upstreams, data_dir, "edge")
    with EdgeClient(url, ca_file=data_dir / "tls" / "ca.pem") as client:
        token = client.login("admin", ADMIN_PASSWORD, captcha_answer=CAPTCHA)["token"]
    time.sleep(1.2)  # past the login's own revocation mark: the session check is cached
    # The billing servicer in this process, on the same database, for server-side times.
    settings = Settings(
        profile="dev",
        data_dir=data_dir,
        grpc_security="plaintext",
        billing_database_url=database_url,
        log_level="WARNING",
    )
    config = BillingConfig(demo_data=False)
    _, _, runtime = build_server(billing_spec(config), settings, address="127.0.0.1:0")

    def stop() -> None:
        for process in (edge, *children):
            process.stop()
        runtime.close()
        node.stop()

    servicer = BillingServicer(runtime, config, SYSTEM_CLOCK)
    return Running(url, token, servicer, node, data_dir, env, upstreams, stop)


def serve_arguments(upstreams: dict[str, int], data_dir: Path) -> list[str]:
    """`python -m edge` arguments of the secure edge over `upstreams` (service → port on
    127.0.0.1), with the certificates of `data_dir`."""
    tls = data_dir / "tls"
    argv = ["serve", "--descriptor-set", str(DESCRIPTORS)]
    for service, upstream_port in upstreams.items():
        argv += ["--upstream", f"{service}=127.0.0.1:{upstream_port}"]
    argv += [
        "--tls-cert", str(tls / "server.pem"), "--tls-key", str(tls / "server.key"),
        "--upstream-ca", str(tls / "ca.pem"),
        "--upstream-cert", str(tls / "edge.pem"), "--upstream-key", str(tls / "edge.key"),
    ]  # fmt: skip
    return argv


def start_edge(
    env: dict[str, str], upstreams: dict[str, int], data_dir: Path, name: str, tree: Path = ROOT
) -> tuple[Child, str]:
    """`python -m edge serve` of `tree` (a checkout) over HTTPS with every stage on, on
    CPU 0; the Memcached nodes it uses are `env`'s. Its process and URL."""
    port = free_port()
    argv = [sys.executable, "-m", "edge", *serve_arguments(upstreams, data_dir)]
    argv += ["--listen", f"127.0.0.1:{port}", "--log-level", "warning"]
    two_cpus = (os.cpu_count() or 1) >= 2
    cpus = {0} if two_cpus else None
    edge = Child(argv, tree_env(env, tree), cpus, data_dir / f"{name}.log", cwd=tree)
    wait_listening(port, edge.proc)
    return edge, f"https://127.0.0.1:{port}"


@contextmanager
def bare_transcoder(data_dir: Path) -> Iterator[str]:
    """The bare transcoder (no security stage, no cache) on the secure edge's CPU and
    HTTPS transport, in front of bench.upstream; the URL of the baseline route."""
    tls = data_dir / "tls"

    def argv(port: int, upstream_port: int) -> list[str]:
        return [
            sys.executable, "-m", "edge", "serve", "--security", "off",
            "--default-policy", "public", "--descriptor-set", str(DESCRIPTORS),
            "--upstream", f"palmgrid.billing.v1.BillingService=127.0.0.1:{upstream_port}",
            "--upstream-plaintext", "--listen", f"127.0.0.1:{port}",
            "--tls-cert", str(tls / "server.pem"), "--tls-key", str(tls / "server.key"),
            "--log-level", "warning",
        ]  # fmt: skip

    with before_upstream(data_dir, "bare-edge", argv) as url:
        yield url


@contextmanager
def asgi_floor(data_dir: Path, body: bytes) -> Iterator[str]:
    """bench.asgi_floor serving `body` on the secure edge's CPU and HTTPS transport: the
    HTTP server and TLS alone. The URL of the baseline route."""
    tls = data_dir / "tls"
    body_file = data_dir / "floor-body.json"
    body_file.write_bytes(body)
    port = free_port()
    argv = [
        sys.executable, "-m", "bench.asgi_floor", str(port), str(body_file),
        str(tls / "server.pem"), str(tls / "server.key"),
    ]  # fmt: skip
    two_cpus = (os.cpu_count() or 1) >= 2
    env = {**os.environ, "PALMGRID_DATA_DIR": str(data_dir)}
    server = Child(argv, env, {0} if two_cpus else None, data_dir / "asgi-floor.log")
    try:
        wait_listening(port, server.proc)
        yield f"https://127.0.0.1:{port}{BASELINE_PATH}"
    finally:
        server.stop()


def load_url(url: str, seconds: float, connections: int) -> LoadResult:
    """wrk on CPU 1 against `url`: one second of warm-up, then the measured run."""
    run_wrk(url, seconds=1, connections=connections, cpus=backend_cpus())  # warm-up
    return run_wrk(url, seconds=seconds, connections=connections, cpus=backend_cpus())
