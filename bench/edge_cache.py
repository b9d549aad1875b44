"""The edge's Memcached cache against PostgreSQL with 1,000,000 customers.

    python -m bench.edge_cache [--customers 1000000] [--database-url URL] [--keep]
                               [--seconds 6] [--connections 32]

In one run:

1. a PostgreSQL database with the billing schema and N customers × 24 months, made by
   bench.billing_scale's generator (or `--database-url` to reuse one it kept);
2. the real account (SQLite) and billing (that database) services in this process, a
   real Memcached, and `python -m edge serve` over HTTPS with every stage on (sessions,
   access, rate limits, field encryption, cache), signed in as the demo `admin`;
3. wrk on `GET /v1/customers/{id}/monthlyUsage`: **cold** (every request a customer not
   cached yet: edge → billing → PostgreSQL, then stored) and **warm** (customers
   already cached): requests/s, p50, p99;
4. the **server-side** time of one read: the uncached database path (billing's servicer,
   in-process, on random customers of the large database) against the cache hit path
   (what the cache stage does on a hit: read the tag generations, read the entry, open
   it with AES-GCM; the entry is the JSON body, nothing is parsed), and their ratio
   (target ≥ 10×);
5. the **hit ratio** under a Zipf (s = 1.1) choice of customers among 100,000, measured
   after a warm-up run of the same pattern (target ≥ 90 %);
6. the **baseline**: the bare transcoder (`--security off`, no stage but transcoding)
   over the same HTTPS transport, on the same CPU, in front of bench.upstream (a plain
   gRPC billing that answers 24 fixed months from pre-serialized bytes), serving the
   same route uncached; the warm secure hits are printed as a multiple of it (target
   ≥ 3×).

The edge gets CPU 0 to itself; wrk, the services, Memcached and PostgreSQL share the rest.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from google.protobuf import json_format
from google.protobuf.message import Message

from bench.billing_scale import FIRST_ID, generate
from bench.load import LoadResult, free_port, run_wrk, wait_listening
from bench.load import _parse as parse_wrk
from cachetags import CachePool, EntryStore, ValueCipher, entry_key
from clients.edge_client import EdgeClient
from palmgrid.billing.v1 import billing_service_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing.config import BillingConfig
from servers.billing.service import BillingServicer
from servers.billing.service import make_spec as billing_spec
from servers.runtime import SYSTEM_CLOCK, CallInfo, Settings, build_server
from servers.runtime.calls import bind_call
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from servers.runtime.migrations import migrate
from tools import memcached

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTORS = ROOT / "generated" / "palmgrid" / "descriptors.binpb"
SERVER = "postgresql://postgres@127.0.0.1:5432"
CAPTCHA = "BENCH1"
ADMIN_PASSWORD = "Palm-dev-2026!"
TARGET_RATIO = 10.0
TARGET_BASELINE_RATIO = 3.0
BASELINE_PATH = "/v1/customers/3100000001/monthlyUsage"  # what bench.upstream answers
TARGET_HIT_RATIO = 0.90
ZIPF_S = 1.1
METHOD = "palmgrid.billing.v1.BillingService.ListMonthlyUsage"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the system ------------------------------------------------------------------------


@dataclass
class Running:
    url: str
    token: str
    billing: BillingServicer
    memcached: memcached.MemcachedProcess
    data_dir: Path
    stop: Callable[[], None]


class Child:
    """A child process pinned to some CPUs, its output in a log file."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], cpus: set[int] | None, log_file: Path
    ) -> None:
        self._log = log_file.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


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
    """Account and billing as their own processes (as deployed), Memcached, the edge."""
    ensure_dev_pki(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    two_cpus = (os.cpu_count() or 1) >= 2
    account_port, billing_port, port = free_port(), free_port(), free_port()
    node = memcached.start(memory_mb=1024)
    env = {
        **os.environ,
        "PALMGRID_PROFILE": "dev",
        "PALMGRID_DATA_DIR": str(data_dir),
        "PALMGRID_LOG_LEVEL": "WARNING",
        "PALMGRID_DEV_CAPTCHA": CAPTCHA,
        "PALMGRID_ACCOUNT_DATABASE_URL": f"sqlite:///{data_dir / 'account.db'}",
        "PALMGRID_BILLING_DATABASE_URL": database_url,
        "PALMGRID_BILLING_DEMO_DATA": "0",
        "PALMGRID_ACCOUNT_PORT": str(account_port),
        "PALMGRID_BILLING_PORT": str(billing_port),
        "PALMGRID_BILLING_TARGET": f"127.0.0.1:{billing_port}",
        "PALMGRID_ACCOUNT_ARGON2_TIME_COST": "1",
        "PALMGRID_ACCOUNT_ARGON2_MEMORY_KIB": "1024",
        "PALMGRID_ACCOUNT_ARGON2_PARALLELISM": "1",
        "PALMGRID_MEMCACHED_SERVERS": node.address,
    }
    # The edge gets CPU 0 to itself; the services share CPU 1 with wrk.
    services = {1} if two_cpus else None
    billing = _service("billing", env, services, billing_port)
    account = _service("account", env, services, account_port)
    tls = data_dir / "tls"
    argv = [
        sys.executable,
        "-m",
        "edge",
        "serve",
        "--descriptor-set",
        str(DESCRIPTORS),
        "--upstream",
        f"palmgrid.account.v1.AccountService=127.0.0.1:{account_port}",
        "--upstream",
        f"palmgrid.billing.v1.BillingService=127.0.0.1:{billing_port}",
        "--listen",
        f"127.0.0.1:{port}",
        "--tls-cert",
        str(tls / "server.pem"),
        "--tls-key",
        str(tls / "server.key"),
        "--upstream-ca",
        str(tls / "ca.pem"),
        "--upstream-cert",
        str(tls / "edge.pem"),
        "--upstream-key",
        str(tls / "edge.key"),
        "--log-level",
        "warning",
    ]
    edge = Child(argv, env, {0} if two_cpus else None, data_dir / "edge.log")
    wait_listening(port, edge.proc)
    url = f"https://127.0.0.1:{port}"
    with EdgeClient(url, ca_file=tls / "ca.pem") as client:
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
        for process in (edge, account, billing):
            process.stop()
        runtime.close()
        node.stop()

    return Running(url, token, BillingServicer(runtime, config, SYSTEM_CLOCK), node, data_dir, stop)


def bare_transcoder(data_dir: Path, seconds: float, connections: int) -> LoadResult:
    """Requests/s of the bare transcoder (no security stage, no cache) over the same
    HTTPS transport and CPU as the secure edge, in front of bench.upstream."""
    two_cpus = (os.cpu_count() or 1) >= 2
    tls = data_dir / "tls"
    upstream_port, port = free_port(), free_port()
    env = {**os.environ, "PALMGRID_DATA_DIR": str(data_dir)}
    upstream = Child(
        [sys.executable, "-m", "bench.upstream", str(upstream_port)],
        env,
        {1} if two_cpus else None,
        data_dir / "upstream.log",
    )
    argv = [
        sys.executable, "-m", "edge", "serve", "--security", "off",
        "--default-policy", "public", "--descriptor-set", str(DESCRIPTORS),
        "--upstream", f"palmgrid.billing.v1.BillingService=127.0.0.1:{upstream_port}",
        "--upstream-plaintext", "--listen", f"127.0.0.1:{port}",
        "--tls-cert", str(tls / "server.pem"), "--tls-key", str(tls / "server.key"),
        "--log-level", "warning",
    ]  # fmt: skip
    edge = Child(argv, env, {0} if two_cpus else None, data_dir / "bare-edge.log")
    try:
        wait_listening(upstream_port, upstream.proc)
        wait_listening(port, edge.proc)
        url = f"https://127.0.0.1:{port}{BASELINE_PATH}"
        load_cpus = {1} if two_cpus else None
        run_wrk(url, seconds=1, connections=connections, cpus=load_cpus)  # warm-up
        return run_wrk(url, seconds=seconds, connections=connections, cpus=load_cpus)
    finally:
        edge.stop()
        upstream.stop()


# -- HTTP load ---------------------------------------------------------------------------


_COUNTING = """
-- wrk runs request/response in each thread's Lua state and done in the main one:
-- threads keep their own counts, done gathers them.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) counts = {} end
response = function(status, headers, body)
  local source = headers["x-cache"] or headers["X-Cache"] or ("status-" .. status)
  if status >= 400 then source = "status-" .. status end
  counts[source] = (counts[source] or 0) + 1
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for source, count in pairs(thread:get("counts")) do
      io.write("x-cache ", source, " ", count, "\\n")
    end
  end
end
request = function()
  return wrk.format("GET", "/v1/customers/" .. pick() .. "/monthlyUsage",
                    {["Authorization"] = "Bearer " .. token})
end
"""


def sequential_script(token: str, first: int, count: int) -> str:
    """Customers first … first+count-1 in turn (a fresh one per request while cold)."""
    return (
        f"""
token = "{token}"
local i = 0
function pick()
  i = i + 1
  return {FIRST_ID} + {first} + ((i - 1) % {count})
end
"""
        + _COUNTING
    )


def zipf_script(token: str, customers: int, seed: int) -> str:
    """Customers drawn by Zipf(s) over `customers`, rank k scattered over the range so
    that hot customers are not neighbours."""
    return (
        f"""
token = "{token}"
local n, s = {customers}, {ZIPF_S}
local cdf, total = {{}}, 0
for k = 1, n do total = total + k ^ (-s); cdf[k] = total end
for k = 1, n do cdf[k] = cdf[k] / total end
math.randomseed({seed})
function pick()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return {FIRST_ID} + 1 + (lo * 7919) % n
end
"""
        + _COUNTING
    )


def load(url: str, script: str, seconds: float, connections: int) -> tuple[LoadResult, str]:
    """Run wrk (one thread, on CPU 1) with a Lua script; the result and wrk's output."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found; install it with `apt-get install wrk`")
    cpus = {1} if (os.cpu_count() or 1) >= 2 else None
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
        out = subprocess.run(
            [*argv, "-s", file.name, url],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        ).stdout
    return parse_wrk(out), out


# -- server-side times ---------------------------------------------------------------------


def _principal() -> identity_pb2.Principal:
    return identity_pb2.Principal(
        user="users/bench",
        username="bench",
        kind=identity_pb2.PRINCIPAL_KIND_STAFF,
        permissions=["billing.*"],
        all_supply_offices=True,
    )


def cache_answer(
    store: EntryStore, method: str, customer: str, request: Message, reply: Message
) -> None:
    """Store `reply` as the edge does after a miss: the JSON body the phone receives,
    under the customer's sharing scope and tag, sealed, for 10 minutes."""
    key = entry_key(method, request.SerializeToString(deterministic=True), f"customer:{customer}")
    _, generations = store.lookup(key, [f"customer/{customer}"])
    body = json_format.MessageToJson(reply, indent=None).encode()
    store.put(key, body, ttl=600, seal=True, generations=generations, json_body=True)


def timed_hit(store: EntryStore, method: str, customer: str, request: Message) -> float:
    """Milliseconds of the cache stage's hit path for `request`: the entry and its tag
    generations in one round trip, AES-GCM open; the body is served as it is."""
    started = time.perf_counter()
    key = entry_key(method, request.SerializeToString(deterministic=True), f"customer:{customer}")
    entry, _ = store.lookup(key, [f"customer/{customer}"], sealed=True)
    assert entry is not None and entry.json_body, "the entry was stored as a JSON body"
    return (time.perf_counter() - started) * 1000


def server_side(running: Running, customers: int, samples: int) -> tuple[list[float], list[float]]:
    """Milliseconds per read: billing's database path vs the cache stage's hit path
    (entry and tag generations in one round trip, AES-GCM open; the entry is the JSON
    body the phone receives, so nothing is parsed)."""
    rng = random.Random(7)
    bind_call(CallInfo(request_id="bench", method="bench", principal=_principal()))
    pool = CachePool([running.memcached.address])
    store = EntryStore(pool, ValueCipher.generate())
    database: list[float] = []
    hits: list[float] = []
    cached: list[tuple[str, billing_service_pb2.ListMonthlyUsageRequest]] = []
    for i in range(samples + 50):
        customer = f"customers/{FIRST_ID + rng.randint(1, customers)}"
        request = billing_service_pb2.ListMonthlyUsageRequest(parent=customer)
        started = time.perf_counter()
        reply = running.billing.ListMonthlyUsage(request, None)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= 50:
            database.append(elapsed)
        cache_answer(store, METHOD, customer, request, reply)
        cached.append((customer, request))
    for i, (customer, request) in enumerate(cached):
        elapsed = timed_hit(store, METHOD, customer, request)
        if i >= 50:
            hits.append(elapsed)
    pool.close()
    return database, hits


# -- the run ---------------------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _database(customers: int) -> tuple[str, str]:
    name = f"palmgrid_bench_edge_cache_{customers}_{os.getpid()}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{SERVER}/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _hits(out: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in out.splitlines():
        if line.startswith("x-cache "):
            _, source, count = line.split()
            counts[source] = counts.get(source, 0) + int(count)
    return counts


def run(args: argparse.Namespace) -> bool:
    created: str | None = None
    url = args.database_url
    if url is None:
        created, url = _database(args.customers)
        log(f"{args.customers:,} customers × 24 months → {created}")
        started = time.perf_counter()
        migrate("billing", url)
        generate(url, args.customers, datetime.now(UTC), log)
        log(f"  loaded in {time.perf_counter() - started:.0f} s")
    try:
        with tempfile.TemporaryDirectory(prefix="palmgrid-bench-cache-") as data_dir:
            running = start(url, Path(data_dir))
            try:
                return measure(running, args)
            finally:
                running.stop()
    finally:
        if created is not None:
            if args.keep:
                log(f"kept {url} (reuse it with --database-url)")
            else:
                _drop(created)


def measure(running: Running, args: argparse.Namespace) -> bool:
    seconds, connections = args.seconds, args.connections
    rng = random.Random(11)
    # Cold: a block of customers nobody asked for yet, one new customer per request.
    block = min(200_000, args.customers - args.zipf_customers)
    cold_first = args.zipf_customers + rng.randint(0, args.customers - args.zipf_customers - block)
    log("cold run (every request a miss)")
    cold_customers = sequential_script(running.token, cold_first, block)
    cold, out = load(running.url, cold_customers, seconds, connections)
    log(f"  answers: {_hits(out)}")
    # Warm: the same customers again, now cached.
    warm_count = min(cold.requests, block)
    log(f"warm run ({warm_count:,} cached customers)")
    warm_customers = sequential_script(running.token, cold_first, warm_count)
    warm, out = load(running.url, warm_customers, seconds, connections)
    log(f"  answers: {_hits(out)}")
    log("baseline: the bare transcoder, uncached, same transport")
    baseline = bare_transcoder(running.data_dir, seconds, connections)
    log(f"server-side times ({args.samples:,} reads each)")
    database, hits = server_side(running, args.customers, args.samples)
    log(f"Zipf(s={ZIPF_S}) over {args.zipf_customers:,} customers: warm-up, then measured")
    warm_up = zipf_script(running.token, args.zipf_customers, seed=1)
    warmed, _ = load(running.url, warm_up, args.zipf_warmup_seconds, connections)
    log(f"  warm-up: {warmed.requests:,} requests")
    zipf = zipf_script(running.token, args.zipf_customers, seed=2)
    measured, out = load(running.url, zipf, args.zipf_seconds, connections)
    counts = _hits(out)
    return report(cold, warm, baseline, database, hits, counts, measured, warmed.requests, args)


def report(
    cold: LoadResult,
    warm: LoadResult,
    baseline: LoadResult,
    database: list[float],
    hits: list[float],
    counts: dict[str, int],
    zipf: LoadResult,
    warm_up_requests: int,
    args: argparse.Namespace,
) -> bool:
    print()
    print(f"edge, GET monthlyUsage (24 months), HTTPS, {args.connections} connections")
    print(f"{'cache':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for label, result in (("cold", cold), ("warm", warm), ("bare", baseline)):
        print(
            f"{label:<8}{result.rps:>10.0f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.errors:>8}"
        )
    print(f"warm / cold requests/s: {warm.rps / cold.rps:.1f}x")
    print(
        f"warm secure hits / bare transcoder uncached (bench.upstream): "
        f"{warm.rps / baseline.rps:.2f}x (target >= {TARGET_BASELINE_RATIO:.0f}x)"
    )
    db50, hit50 = statistics.median(database), statistics.median(hits)
    ratio = db50 / hit50
    print()
    print(f"server-side time of one read, {args.customers:,} customers (ms)")
    print(f"{'path':<34}{'p50':>8}{'p99':>8}")
    print(f"{'database (billing, PostgreSQL)':<34}{db50:>8.3f}{_percentile(database, 0.99):>8.3f}")
    print(f"{'cache hit (Memcached, AES-GCM)':<34}{hit50:>8.3f}{_percentile(hits, 0.99):>8.3f}")
    print(f"database / cache hit (p50): {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    total = sum(counts.values())
    served = sum(counts.get(k, 0) for k in ("HIT", "STALE", "COALESCED"))
    hit_ratio = counts.get("HIT", 0) / total if total else 0.0
    print()
    print(
        f"Zipf(s={ZIPF_S}) over {args.zipf_customers:,} customers after a warm-up of "
        f"{warm_up_requests:,} requests: {total:,} requests, {zipf.rps:.0f} req/s"
    )
    print("answers: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    print(
        f"hit ratio {hit_ratio:.1%} (target >= {TARGET_HIT_RATIO:.0%}); "
        f"without the database {served / total if total else 0:.1%}"
    )
    return ratio >= TARGET_RATIO and hit_ratio >= TARGET_HIT_RATIO


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_cache", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a database bench.billing_scale kept")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--zipf-customers", type=int, default=100_000)
    parser.add_argument("--zipf-warmup-seconds", type=float, default=300)
    parser.add_argument("--zipf-seconds", type=float, default=30)
    args = parser.parse_args(argv)
    if args.customers < args.zipf_customers + 250_000 and args.database_url is None:
        args.zipf_customers = min(args.zipf_customers, args.customers // 4)
    return 0 if run(args) else 1


if __name__ == "__main__":
    raise SystemExit(main())
