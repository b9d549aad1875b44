"""One of two Memcached nodes hung (SIGSTOP) under load, run last by bench.edge_cache.

A second secure edge, on the same services, uses two Memcached nodes: the bench's own
and a spare. Public outlet lists (`GET /v1/outlets?pageSize=N`, anonymous, cached for
everyone) whose entry and tag generation live on one node are found by asking each
node how many keys it was asked for; the *other* node is the one hung. Two wrk runs
go at once, public outlet lists and staff reads of `monthlyUsage` (whose sessions,
entries and generations are spread over both nodes): first with both nodes up, then
with the second node stopped one second into the run. Targets:

- the public routes that do not touch the hung node keep their p99 within 2× of
  normal: the edge's event loop never waits on the hung node;
- no request waits longer than one timeout per node (100 ms) before the node is
  marked dead: the slowest request while the node hangs is at most the normal slowest
  plus one timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import httpx

from bench.cache_system import Child, Running, start_edge
from bench.load import LoadResult
from bench.wrk_scripts import COUNTING, PendingLoad, cache_answers, sequential_script
from cachetags import PoolOptions
from tools import memcached

TIMEOUT_MS = PoolOptions().timeout * 1000
CANDIDATE_PAGE_SIZES = range(1, 41)
PUBLIC_PATHS = 8
PROBE_REQUESTS = 20
HANG_AFTER_SECONDS = 1.0
PRIVATE_CUSTOMERS = 200  # few enough that the warm-up caches them all


@dataclass(frozen=True)
class HungNode:
    public_paths: list[str]
    public_normal: LoadResult
    private_normal: LoadResult
    public_hung: LoadResult
    private_hung: LoadResult
    answers: dict[str, dict[str, int]]  # run → X-Cache → count
    nodes_after: dict[str, str]


def keys_asked(node: memcached.MemcachedProcess) -> int:
    """How many keys the node was asked for since it started (`cmd_get`)."""
    with socket.create_connection((node.host, node.port), timeout=2) as conn:
        conn.sendall(b"stats\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("memcached closed the stats connection")
            reply += chunk
    for line in reply.decode().splitlines():
        if line.startswith("STAT cmd_get "):
            return int(line.split()[2])
    raise ValueError("memcached stats without cmd_get")


def nodes_touched(
    client: httpx.Client, path: str, nodes: list[memcached.MemcachedProcess]
) -> frozenset[int]:
    """The nodes a cache hit on `path` reads from."""
    for _ in range(2):  # a miss stores the entry, then it is a hit
        client.get(path).raise_for_status()
    before = [keys_asked(node) for node in nodes]
    for _ in range(PROBE_REQUESTS):
        answer = client.get(path)
        answer.raise_for_status()
        if answer.headers.get("x-cache") != "HIT":
            raise RuntimeError(f"{path} answered {answer.headers.get('x-cache')}, not HIT")
    after = [keys_asked(node) for node in nodes]
    return frozenset(i for i in range(len(nodes)) if after[i] - before[i] >= PROBE_REQUESTS)


def split_public_paths(
    client: httpx.Client, nodes: list[memcached.MemcachedProcess]
) -> tuple[list[str], int]:
    """Public paths answered from one node alone, and the index of the other node."""
    by_node: dict[int, list[str]] = {i: [] for i in range(len(nodes))}
    for size in CANDIDATE_PAGE_SIZES:
        path = f"/v1/outlets?pageSize={size}"
        touched = nodes_touched(client, path, nodes)
        if len(touched) == 1:
            by_node[next(iter(touched))].append(path)
    keep = max(by_node, key=lambda i: len(by_node[i]))
    if not by_node[keep]:
        raise RuntimeError("no outlet list is answered from a single node")
    return by_node[keep][:PUBLIC_PATHS], 1 - keep


def public_script(paths: list[str]) -> str:
    listed = ", ".join(f'"{p}"' for p in paths)
    return (
        COUNTING
        + f"""
local paths = {{{listed}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end
"""
    )


def both_loads(
    url: str, public: str, private: str, seconds: float, connections: int
) -> tuple[tuple[LoadResult, str], tuple[LoadResult, str]]:
    """Public and private loads at once, each with half the connections: each one's
    result and wrk's output."""
    half = max(1, connections // 2)
    runs = [PendingLoad(url, script, seconds, half) for script in (public, private)]
    public_run, private_run = (run.result() for run in runs)
    return public_run, private_run


def measure_hung_node(running: Running, seconds: float, connections: int) -> HungNode:
    spare = memcached.start(memory_mb=256)
    nodes = [running.memcached, spare]
    env = {**running.env, "PALMGRID_MEMCACHED_SERVERS": ",".join(n.address for n in nodes)}
    edge: Child | None = None
    try:
        edge, url = start_edge(env, running.upstreams, running.data_dir, "edge-two-nodes")
        ca = running.data_dir / "tls" / "ca.pem"
        with httpx.Client(base_url=url, verify=str(ca), timeout=10) as client:
            paths, hung = split_public_paths(client, nodes)
            public = public_script(paths)
            private = sequential_script(running.token, 1, PRIVATE_CUSTOMERS)
            both_loads(url, public, private, 2, connections)  # warm-up: both routes cached
            normal = both_loads(url, public, private, seconds, connections)
            stopper = threading.Timer(HANG_AFTER_SECONDS, nodes[hung].pause)
            stopper.start()
            try:
                hung_runs = both_loads(url, public, private, seconds, connections)
            finally:
                stopper.join()
                nodes[hung].resume()
            time.sleep(3 * PoolOptions().dead_timeout)  # probed, flushed and back in the ring
            health = client.get("/healthz").json()
        outputs = {
            "public, both nodes up": normal[0][1],
            "public, one node hung": hung_runs[0][1],
            "monthlyUsage, both nodes up": normal[1][1],
            "monthlyUsage, one node hung": hung_runs[1][1],
        }
        return HungNode(
            paths,
            normal[0][0],
            normal[1][0],
            hung_runs[0][0],
            hung_runs[1][0],
            {run: cache_answers(out) for run, out in outputs.items()},
            health.get("memcached", {}),
        )
    finally:
        if edge is not None:
            edge.stop()
        spare.stop()


def report_hung_node(result: HungNode, connections: int) -> bool:
    print()
    print(
        f"one of two Memcached nodes hung (SIGSTOP {HANG_AFTER_SECONDS:.0f} s into the run), "
        f"{connections // 2} + {connections // 2} connections"
    )
    print(f"public routes, answered from the other node: {', '.join(result.public_paths)}")
    print(f"{'route':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    rows = (
        ("public, both nodes up", result.public_normal),
        ("public, one node hung", result.public_hung),
        ("monthlyUsage, both nodes up", result.private_normal),
        ("monthlyUsage, one node hung", result.private_hung),
    )
    for label, run in rows:
        print(
            f"{label:<34}{run.rps:>9.0f}{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}"
            f"{run.max_ms:>9.1f}{run.errors:>8}"
        )
    for label, counts in result.answers.items():
        print(f"answers, {label}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    p99_ratio = result.public_hung.p99_ms / result.public_normal.p99_ms
    normal_max = max(result.public_normal.max_ms, result.private_normal.max_ms)
    hung_max = max(result.public_hung.max_ms, result.private_hung.max_ms)
    print(f"public p99, hung / normal: {p99_ratio:.2f}x (target <= 2x)")
    print(
        f"slowest request while hung: {hung_max:.1f} ms; normal slowest {normal_max:.1f} ms "
        f"+ one timeout {TIMEOUT_MS:.0f} ms = {normal_max + TIMEOUT_MS:.1f} ms (target: within)"
    )
    print(f"nodes after the hung one resumed: {result.nodes_after}")
    errors = sum(run.errors for _, run in rows)
    return p99_ratio <= 2.0 and hung_max <= normal_max + TIMEOUT_MS and errors == 0
