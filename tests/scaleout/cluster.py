"""A scaled-out PalmGrid on loopback, every part its own process: nginx in front of two
edges, two replicas each of account and billing, notification, two workers, two
Memcached nodes, PostgreSQL, and the payment provider's sandbox (in this process, as the
provider lies outside the utility). Processes are started the way `./dev up` starts
them (servers.devup), each can be killed and started again on the same port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from servers.billing.payments.sandbox import Behaviour, Sandbox, start_sandbox
from servers.billing.payments.settings import PaymentSettings
from servers.devup import Child, _spawn, edge_tls_args, stop_children, wait_serving
from servers.runtime.settings import Settings
from tests.e2e.system import CAPTCHA, TESTER, prepare_data_dir, service_accounts
from tools import memcached
from tools.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# What the edges front: enough for a phone to sign in, bind, read and pay.
ROUTED = {
    "account": ("palmgrid.account.v1.AccountService",),
    "billing": ("palmgrid.billing.v1.BillingService",),
}
REPLICATED = ("account", "billing")
SINGLE = ("notification",)
DEMO_CUSTOMERS = 20
# A replica says NOT_SERVING this long before it stops taking calls (clients' health
# watches see it first), then finishes what it has within the grace.
DRAIN_SECONDS = 1.0
GRACE_SECONDS = 5.0


def nginx_config(directory: Path, port: int, edges: list[int], tls: Path) -> str:
    """nginx in front of the edges: HTTPS for the phones, HTTPS to the edges (checked
    against the PKI's CA), passive health checks (an edge that fails a request is left
    out for `fail_timeout`), and requests retried on the other edge when one fails.
    Reads are retried on any failure; a payment too, as billing dedupes it by its
    request id (the Idempotency-Key); no other create is, as not all of them carry one."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    servers = "\n".join(
        f"    server 127.0.0.1:{edge} max_fails=1 fail_timeout=3s;" for edge in edges
    )
    retry = "error timeout http_502 http_503 http_504"
    return f"""{user}worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
  upstream edges {{
{servers}
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tls}/server.pem;
    ssl_certificate_key {tls}/server.key;
    proxy_ssl_trusted_certificate {tls}/ca.pem;
    proxy_ssl_verify on;
    proxy_ssl_name localhost;
    proxy_ssl_session_reuse on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto https;
    proxy_connect_timeout 1s;
    proxy_read_timeout 30s;
    proxy_next_upstream {retry};
    proxy_next_upstream_tries 2;
    location / {{
      proxy_pass https://edges;
    }}
    location ~ ^/v1/customers/[0-9]+/payments$ {{
      proxy_pass https://edges;
      proxy_next_upstream {retry} non_idempotent;
    }}
  }}
}}
"""


@dataclass
class Process:
    """One process of the cluster and how to start it again."""

    name: str
    args: list[str]
    env: dict[str, str]
    address: str
    child: Child | None = None

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()


@dataclass
class Cluster:
    data_dir: Path
    settings: Settings
    sandbox: Sandbox
    nodes: list[memcached.MemcachedProcess]
    processes: dict[str, Process] = field(default_factory=dict)
    nginx: subprocess.Popen[bytes] | None = None
    url: str = ""

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def start(self, *names: str) -> None:
        """Start these processes together and wait until each is ready."""
        for name in names:
            process = self.processes[name]
            process.child = _spawn(name, process.args, process.env, self.data_dir / "logs")
        for name in names:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        process = self.processes[name]
        if name.startswith(("edge", "worker")):
            if name.startswith("edge"):
                host, port = process.address.rsplit(":", 1)
                memcached.wait_for_port(host, int(port), 60.0)
            return
        wait_serving(process.address, self.settings.client_credentials("cli"), 90.0)

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies mid-call, as in a crash."""
        child = self.processes[name].child
        assert child is not None
        child.process.kill()
        child.process.wait()

    def stop(self, name: str, timeout: float = 30.0) -> int:
        """SIGTERM: the process drains and stops; its exit code."""
        child = self.processes[name].child
        assert child is not None
        child.process.send_signal(signal.SIGTERM)
        return child.process.wait(timeout=timeout)

    def restart_node(self, index: int) -> None:
        old = self.nodes[index]
        self.nodes[index] = memcached.start(port=old.port, memory_mb=32)

    def close(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)
        children = [p.child for p in self.processes.values() if p.child is not None]
        stop_children(children, grace=GRACE_SECONDS + DRAIN_SECONDS + 5)
        self.sandbox.stop()
        for node in self.nodes:
            node.stop()


def _environment(data_dir: Path, database_url: str, cluster: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
            "PALMGRID_PROFILE": "dev",
            "PALMGRID_DATA_DIR": str(data_dir),
            "PALMGRID_DATABASE_URL": database_url,
            "PALMGRID_DEV_CAPTCHA": CAPTCHA,
            "PALMGRID_GRPC_MAX_WORKERS": "8",
            "PALMGRID_DB_POOL_SIZE": "3",
            "PALMGRID_SERVICE_ACCOUNTS": json.dumps(
                {name: account.model_dump() for name, account in service_accounts().items()}
            ),
            "PALMGRID_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "PALMGRID_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            "PALMGRID_BILLING_DEMO_CUSTOMERS": str(DEMO_CUSTOMERS),
            "PALMGRID_ACCOUNT_ARGON2_TIME_COST": "1",
            "PALMGRID_ACCOUNT_ARGON2_MEMORY_KIB": "1024",
            "PALMGRID_ACCOUNT_ARGON2_PARALLELISM": "1",
            "PALMGRID_PAYMENT_RESOLVE_AFTER_SECONDS": "1",
            "PALMGRID_PAYMENT_JOBS_INTERVAL_SECONDS": "1",
            "PALMGRID_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
            **cluster,
        }
    )
    return env


def start_cluster(data_dir: Path, database_url: str) -> Cluster:
    """Start every part and wait until it serves; close() stops them all."""
    prepare_data_dir(data_dir)
    ports = {f"{name}-{n}": free_port() for name in REPLICATED for n in (1, 2)}
    ports.update({name: free_port() for name in SINGLE})
    targets = {
        name: ",".join(f"127.0.0.1:{ports[f'{name}-{n}']}" for n in (1, 2)) for name in REPLICATED
    }
    targets.update({name: f"127.0.0.1:{ports[name]}" for name in SINGLE})
    nodes = [memcached.start(memory_mb=32) for _ in range(2)]
    provider_port = free_port()
    cluster_env = {
        "PALMGRID_MEMCACHED_SERVERS": ",".join(node.address for node in nodes),
        "PALMGRID_PAYMENT_PROVIDER_URL": f"http://127.0.0.1:{provider_port}",
        **{f"PALMGRID_{name.upper()}_TARGET": target for name, target in targets.items()},
    }
    env = _environment(data_dir, database_url, cluster_env)
    settings = Settings(
        data_dir=data_dir,
        service_accounts=service_accounts(),
        **{f"{name}_target": target for name, target in targets.items()},
    )
    payments = PaymentSettings(
        provider_url=f"http://127.0.0.1:{provider_port}", keys_dir=data_dir / "payments"
    )
    behaviour = Behaviour(confirm_delay_seconds=0.2, callback_retry_seconds=(0.2, 0.5, 1.0))
    sandbox = start_sandbox(settings, payments, port=provider_port, behaviour=behaviour)
    cluster = Cluster(data_dir, settings, sandbox, nodes)
    try:
        _add_services(cluster, env, ports)
        for n in (1, 2):
            name = f"worker-{n}"
            cluster.processes[name] = Process(
                name, [sys.executable, "-m", "servers.worker"], env, "jobs"
            )
        # One replica of each first, one at a time: it migrates the schema and seeds the
        # demo data; then the others together.
        for name in ("billing-1", "account-1", "notification"):
            cluster.start(name)
        cluster.start("billing-2", "account-2", "worker-1", "worker-2")
        edges = [free_port(), free_port()]
        for n, port in enumerate(edges, 1):
            args = _edge_args(settings, port, targets)
            cluster.processes[f"edge-{n}"] = Process(f"edge-{n}", args, env, f"127.0.0.1:{port}")
        # The first edge creates the key files both read.
        cluster.start("edge-1")
        cluster.start("edge-2")
        _start_nginx(cluster, edges)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _add_services(cluster: Cluster, env: dict[str, str], ports: dict[str, int]) -> None:
    for name, port in ports.items():
        service = name.split("-")[0]
        own = {**env, f"PALMGRID_{service.upper()}_PORT": str(port)}
        args = [sys.executable, "-m", f"servers.{service}"]
        cluster.processes[name] = Process(name, args, own, f"127.0.0.1:{port}")


def _edge_args(settings: Settings, port: int, targets: dict[str, str]) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "edge",
        "serve",
        *edge_tls_args(settings, f"127.0.0.1:{port}"),
        "--drain-seconds",
        str(DRAIN_SECONDS),
        "--shutdown-grace-seconds",
        str(GRACE_SECONDS),
        "--log-level",
        "warning",
    ]
    for process, services in ROUTED.items():
        for service in services:
            args += ["--upstream", f"{service}={targets[process]}"]
    return args


def _start_nginx(cluster: Cluster, edges: list[int]) -> None:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    directory = cluster.data_dir / "nginx"
    directory.mkdir(exist_ok=True)
    port = free_port()
    config = directory / "nginx.conf"
    config.write_text(nginx_config(directory, port, edges, cluster.data_dir / "tls"))
    cluster.nginx = subprocess.Popen(
        [binary, "-c", str(config), "-p", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    memcached.wait_for_port("127.0.0.1", port, 15.0)
    cluster.url = f"https://127.0.0.1:{port}"


__all__ = ["TESTER", "Cluster", "nginx_config", "start_cluster"]
