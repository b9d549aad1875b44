"""One of two Memcached nodes hung (SIGSTOP) under load, run last by bench.edge_cache.

A second secure edge, on the same services, uses two Memcached nodes: the bench's own
and a spare. Public outlet lists (`GET /v1/outlets?pageSize=N`, anonymous, cached for
everyone) whose entry and tag generation live on one node are found by placing their
keys as the edge's pool does; the *other* node is the one hung. Two wrk runs go at
once, public outlet lists and staff reads of `monthlyUsage` (whose session marks,
entries and generations are spread over both nodes), with a prober beside them that
reads `monthlyUsage` one request after another and times each: first with both nodes
up, then with the second node stopped one second into the run. Targets:

- the public routes that do not touch the hung node keep their p99 within 2× of
  normal: the edge's event loop never waits on the hung node;
- no request waits longer than one timeout per node (100 ms) before the node is
  marked dead: the prober's slowest cache hit while the node hangs is at most its
  slowest with both nodes up plus one timeout (misses are left out: the keys the hung
  node held are read from the database again, which is not a wait on Memcached).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench.billing_scale import FIRST_ID
from bench.cache_system import Child, Running, backend_cpus, start_edge
from bench.load import LoadResult
from bench.wrk_scripts import PendingLoad, cache_answers, paths_script, sequential_script
from cachetags import AsyncCachePool, EntryStore, PoolOptions
from cachetags.plans import entry_address, plan_method
from palmgrid.care.v1 import care_service_pb2
from servers.runtime.methods import method_rules
from tools import memcached

TIMEOUT_MS = PoolOptions().timeout * 1000
CANDIDATE_PAGE_SIZES = range(1, 41)
PUBLIC_PATHS = 8
HANG_AFTER_SECONDS = 1.0
PRIVATE_CUSTOMERS = 200  # few enough that the warm-up caches them all


@dataclass(frozen=True)
class Phase:
    """One run of both loads, with the prober beside them."""

    public: LoadResult
    private: LoadResult
    answers: dict[str, dict[str, int]]  # load → X-Cache → count
    slowest_hit_ms: float  # the prober's slowest answer served from the cache
    probes: int
    cache_errors: int  # Memcached operations that failed (timed out) meanwhile


@dataclass(frozen=True)
class HungNode:
    public_paths: list[str]
    normal: Phase
    hung: Phase
    nodes_after: dict[str, str]


def outlet_list_keys(page_size: int) -> list[str]:
    """The Memcached keys of an anonymous `GET /v1/outlets?pageSize=N`: its entry and
    its tag's generation, as the edge's cache stage works them out."""
    method = care_service_pb2.DESCRIPTOR.services_by_name["CareService"].methods_by_name[
        "ListOutlets"
    ]
    plan = plan_method(
        method.full_name, method_rules(method), public=True, streaming=False, sensitive=False
    )
    request = care_service_pb2.ListOutletsRequest(page_size=page_size)
    address = entry_address(plan, request, None)
    assert address is not None, "ListOutlets is cached for everyone"
    return EntryStore.lookup_keys(address.key, address.tags)


def split_public_paths(nodes: list[memcached.MemcachedProcess]) -> tuple[list[str], int]:
    """Public paths whose keys all live on one node, and the index of the other node
    (placed by the same rendezvous hashing as the edge's pool)."""
    ring = AsyncCachePool([node.address for node in nodes])
    names = [f"{node.host}:{node.port}" for node in nodes]
    by_node: dict[int, list[str]] = {i: [] for i in range(len(nodes))}
    for size in CANDIDATE_PAGE_SIZES:
        placed = {names.index(ring.node_for(key) or "") for key in outlet_list_keys(size)}
        if len(placed) == 1:
            by_node[placed.pop()].append(f"/v1/outlets?pageSize={size}")
    ring.close()
    keep = max(by_node, key=lambda i: len(by_node[i]))
    if not by_node[keep]:
        raise RuntimeError("no outlet list lives on a single node")
    return by_node[keep][:PUBLIC_PATHS], 1 - keep


class Prober(threading.Thread):
    """Sequential reads of one customer's `monthlyUsage` after another beside the load,
    each timed: a cache hit needs no upstream, so its time is the edge's own plus
    Memcached's — what a hung node could stretch."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        super().__init__(daemon=True)
        self.client, self.token = client, token
        self.hits_ms: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        i = 0
        while not self.done.wait(0.005):
            i += 1
            path = f"/v1/customers/{FIRST_ID + 1 + i % PRIVATE_CUSTOMERS}/monthlyUsage"
            started = time.perf_counter()
            answer = self.client.get(path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code == 200 and answer.headers.get("x-cache") == "HIT":
                self.hits_ms.append(elapsed)


def cache_errors(client: httpx.Client) -> int:
    """Memcached operations the edge counted as failed, from its `/metrics`."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("palmgrid_cache_operations_total{") and 'outcome="error"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def run_phase(
    client: httpx.Client,
    tls: ssl.SSLContext,
    scripts: tuple[str, str],
    token: str,
    seconds: float,
    connections: int,
    during: Callable[[], None] | None = None,
) -> Phase:
    """Public and private loads at once, each with half the connections, and the
    prober; `during` is called `HANG_AFTER_SECONDS` into the run."""
    url = str(client.base_url).rstrip("/")
    errors_before = cache_errors(client)
    half = max(1, connections // 2)
    runs = [PendingLoad(url, script, seconds, half) for script in scripts]
    with httpx.Client(base_url=url, verify=tls, timeout=10) as own:
        prober = Prober(own, token)
        prober.start()
        try:
            if during is not None:
                time.sleep(HANG_AFTER_SECONDS)
                during()
            (public, public_out), (private, private_out) = (run.result() for run in runs)
        finally:
            # Ended before its client closes: a TLS socket closed under a thread's read
            # lets OpenSSL use the number after it is given to another file.
            prober.done.set()
            prober.join()
    return Phase(
        public,
        private,
        {"public": cache_answers(public_out), "monthlyUsage": cache_answers(private_out)},
        max(prober.hits_ms, default=float("nan")),
        len(prober.hits_ms),
        cache_errors(client) - errors_before,
    )


def measure_hung_node(running: Running, seconds: float, connections: int) -> HungNode:
    spare = memcached.start(memory_mb=256, cpus=backend_cpus())
    nodes = [running.memcached, spare]
    env = {**running.env, "PALMGRID_MEMCACHED_SERVERS": ",".join(n.address for n in nodes)}
    edge: Child | None = None
    try:
        edge, url = start_edge(env, running.upstreams, running.data_dir, "edge-two-nodes")
        tls = ssl.create_default_context(cafile=running.data_dir / "tls" / "ca.pem")
        with httpx.Client(base_url=url, verify=tls, timeout=10) as client:
            paths, hung = split_public_paths(nodes)
            scripts = (
                paths_script(paths),
                sequential_script(running.token, 1, PRIVATE_CUSTOMERS),
            )
            run_phase(client, tls, scripts, running.token, 2, connections)  # warm-up: all cached
            normal = run_phase(client, tls, scripts, running.token, seconds, connections)
            try:
                hung_phase = run_phase(
                    client, tls, scripts, running.token, seconds, connections, nodes[hung].pause
                )
            finally:
                nodes[hung].resume()
            time.sleep(3 * PoolOptions().dead_timeout)  # probed, flushed and back in the ring
            health = client.get("/healthz").json()
        return HungNode(paths, normal, hung_phase, health.get("memcached", {}))
    finally:
        if edge is not None:
            edge.stop()
        spare.stop()


def report_hung_node(result: HungNode, connections: int) -> bool:
    normal, hung = result.normal, result.hung
    print()
    print(
        f"one of two Memcached nodes hung (SIGSTOP {HANG_AFTER_SECONDS:.0f} s into the run), "
        f"{connections // 2} + {connections // 2} connections and one sequential prober"
    )
    print(f"public routes, answered from the other node: {', '.join(result.public_paths)}")
    print(f"{'route':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    rows = (
        ("public, both nodes up", normal.public),
        ("public, one node hung", hung.public),
        ("monthlyUsage, both nodes up", normal.private),
        ("monthlyUsage, one node hung", hung.private),
    )
    for label, run in rows:
        print(
            f"{label:<34}{run.rps:>9.0f}{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}"
            f"{run.max_ms:>9.1f}{run.errors:>8}"
        )
    for label, phase in (("both nodes up", normal), ("one node hung", hung)):
        for load, counts in phase.answers.items():
            listed = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
            print(f"answers, {load}, {label}: {listed}")
    p99_ratio = hung.public.p99_ms / normal.public.p99_ms
    print(f"public p99, hung / normal: {p99_ratio:.2f}x (target <= 2x)")
    limit = normal.slowest_hit_ms + TIMEOUT_MS
    print(
        f"prober's slowest cache hit: {hung.slowest_hit_ms:.1f} ms while hung "
        f"({hung.probes:,} hits), {normal.slowest_hit_ms:.1f} ms with both up "
        f"({normal.probes:,} hits); target <= {limit:.1f} ms (one {TIMEOUT_MS:.0f} ms timeout more)"
    )
    print(
        f"Memcached operations that failed while hung: {hung.cache_errors} "
        f"(with both up: {normal.cache_errors})"
    )
    print(f"nodes after the hung one resumed: {result.nodes_after}")
    errors = sum(run.errors for _, run in rows)
    return p99_ratio <= 2.0 and hung.slowest_hit_ms <= limit and errors == 0
