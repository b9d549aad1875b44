"""Warm staff hits through this tree's secure edge and another revision's, side by side.

    python -m bench edge-against [--against REV] [--rounds 5] [--seconds 5]

The system of bench.edge_cache (account, billing on a fresh PostgreSQL database, care and
Memcached, all on CPU 1 with wrk) is started once. Two secure edges serve it over HTTPS,
both up at once on CPU 0: this tree's (with what is not committed yet) and `REV`'s (a
temporary git worktree; by default `HEAD`). wrk then loads one and the other in
alternating rounds, the order turning each round, with the same cached 24-month
`monthlyUsage` reads at 32 connections.

Each round prints requests/s, p99 and the edge's CPU time per request (user and system,
from /proc); the run ends with the medians and this tree's ratio to `REV`. This host's
speed drifts by a third within minutes, so two edges measured in separate runs cannot be
compared; rounds that alternate within one run can, and CPU per request moves less with
the host than requests/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.billing_scale import customers_database
from bench.cache_system import Running, start, start_edge
from bench.load import cpu_seconds
from bench.processes import ROOT, revision_tree
from bench.wrk_scripts import cache_answers, load, sequential_script

CUSTOMERS = 1000
CONNECTIONS = 32


def measure(
    running: Running, trees: dict[str, Path], rounds: int, seconds: float
) -> dict[str, list[tuple[float, float, float]]]:
    """Per edge, per round: requests/s, p99 ms and CPU µs per request."""
    script = sequential_script(running.token, 1, CUSTOMERS)
    edges = {
        label: start_edge(running.env, running.upstreams, running.data_dir, f"edge-{i}", tree)
        for i, (label, tree) in enumerate(trees.items())
    }
    try:
        for _, url in edges.values():
            load(url, script, 4, CONNECTIONS)  # the first fills the cache for both
            load(url, script, 2, CONNECTIONS)
        figures: dict[str, list[tuple[float, float, float]]] = {label: [] for label in edges}
        order = list(edges)
        for i in range(rounds):
            for label in order if i % 2 == 0 else reversed(order):
                child, url = edges[label]
                before = cpu_seconds(child.proc.pid)
                result, out = load(url, script, seconds, CONNECTIONS)
                cpu = cpu_seconds(child.proc.pid) - before
                if set(cache_answers(out)) != {"HIT"} or result.errors:
                    raise RuntimeError(f"{label}: not every answer was a hit:\n{out}")
                per_request = cpu / max(result.requests, 1) * 1e6
                figures[label].append((result.rps, result.p99_ms, per_request))
                print(
                    f"round {i + 1}, {label:<12} {result.rps:>8.0f} req/s  "
                    f"p99 {result.p99_ms:>6.1f} ms  CPU {per_request:>6.0f} µs/request",
                    flush=True,
                )
        return figures
    finally:
        for child, _ in edges.values():
            child.stop()


def report(figures: dict[str, list[tuple[float, float, float]]], against: str) -> None:
    medians = {
        label: (
            statistics.median(r[0] for r in rows),
            statistics.median(r[2] for r in rows),
        )
        for label, rows in figures.items()
    }
    print(f"medians of {len(figures['this tree'])} alternating rounds")
    for label, (rps, cpu) in medians.items():
        print(f"  {label:<12} {rps:>8.0f} req/s  CPU {cpu:>6.0f} µs/request")
    (rps, cpu), (rps_then, cpu_then) = medians["this tree"], medians[against]
    print(
        f"this tree / {against}: requests/s {rps / rps_then:.2f}x, "
        f"CPU per request {cpu / cpu_then:.2f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_against", description=__doc__)
    parser.add_argument("--against", metavar="REV", default="HEAD")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args(argv)
    name = f"palmgrid_bench_edge_against_{os.getpid()}"
    with (
        customers_database(name, CUSTOMERS) as url,
        tempfile.TemporaryDirectory(prefix="palmgrid-bench-against-") as scratch,
        revision_tree(args.against, Path(scratch)) as against,
    ):
        running = start(url, Path(scratch))
        try:
            trees = {"this tree": ROOT, args.against: against}
            figures = measure(running, trees, args.rounds, args.seconds)
        finally:
            running.stop()
    report(figures, args.against)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
