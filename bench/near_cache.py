"""Public hits with and without the edge's near cache, run by bench.edge_cache.

Two secure edges on the bench's services and Memcached — one as shipped, one with
`PALMGRID_EDGE_NEAR_CACHE_SECONDS=0` — serve anonymous GETs of eight outlet lists
(global entries, cached for everyone), in rounds that alternate between them, each
alone on CPU 0 while it is loaded. Printed: each round's requests/s and p99, the
medians and their ratio (the near cache is kept only while it pays).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.cache_system import Child, Running, start_edge
from bench.load import LoadResult
from bench.wrk_scripts import PendingLoad, paths_script

PATHS = [f"/v1/outlets?pageSize={n}" for n in range(1, 9)]
ROUNDS = 3
KINDS = {"without": "0", "with": None}  # PALMGRID_EDGE_NEAR_CACHE_SECONDS; None: default


@dataclass(frozen=True)
class NearCacheRuns:
    runs: dict[str, list[LoadResult]]  # "without" / "with" → one result per round

    def median_rps(self, kind: str) -> float:
        return statistics.median(run.rps for run in self.runs[kind])


def measure_near_cache(running: Running, seconds: float, connections: int) -> NearCacheRuns:
    edges: dict[str, tuple[Child, str]] = {}
    try:
        for kind, ttl in KINDS.items():
            env = dict(running.env)
            if ttl is not None:
                env["PALMGRID_EDGE_NEAR_CACHE_SECONDS"] = ttl
            edges[kind] = start_edge(env, running.upstreams, running.data_dir, f"edge-{kind}")
        script = paths_script(PATHS)
        runs: dict[str, list[LoadResult]] = {kind: [] for kind in KINDS}
        for _ in range(ROUNDS):
            for kind, (_, url) in edges.items():
                PendingLoad(url, script, 1, connections).result()  # warm-up
                runs[kind].append(PendingLoad(url, script, seconds, connections).result()[0])
        return NearCacheRuns(runs)
    finally:
        for edge, _ in edges.values():
            edge.stop()


def report_near_cache(result: NearCacheRuns, connections: int) -> None:
    print()
    print(
        f"near cache: anonymous GETs of {len(PATHS)} outlet lists, HTTPS, "
        f"{connections} connections, {ROUNDS} alternating rounds"
    )
    print(f"{'edge':<22}{'req/s per round':>30}{'p99 ms per round':>30}")
    for kind, runs in result.runs.items():
        rps = " ".join(f"{run.rps:>7.0f}" for run in runs)
        p99 = " ".join(f"{run.p99_ms:>7.1f}" for run in runs)
        print(f"{kind + ' near cache':<22}{rps:>30}{p99:>30}")
    ratio = result.median_rps("with") / result.median_rps("without")
    print(
        f"median req/s, with / without the near cache: {result.median_rps('with'):.0f} / "
        f"{result.median_rps('without'):.0f} = {ratio:.2f}x"
    )
