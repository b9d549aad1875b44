"""Where a warm cache hit's time goes inside the secure edge, stage by stage.

    python -m bench.edge_stages [--requests 10000] [--customers 200]

The system of bench.edge_cache (account, billing on a fresh PostgreSQL database, care,
Memcached) is started, and the secure edge is built in this process exactly as
`python -m edge serve` builds it. Its ASGI app is then called directly, one request
after another — no HTTP server, no TLS, no other request to overlap with — for staff
`GET /v1/customers/{id}/monthlyUsage` whose answers are cached. Each pipeline stage is
timed (edge.pipeline.STAGE_ORDER): its inclusive time, and its own time without the
stages inside it. What is left of a request is the app around the pipeline (request id,
span, metrics, middleware). The Memcached round trip is in `authenticate`, which reads
the session's mark and the entry with its generations in one batch; sequential
requests each pay a whole round trip, which concurrent ones share.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import uvloop

import edge.app
from bench.billing_scale import FIRST_ID, customers_database
from bench.cache_system import Running, serve_arguments, start
from edge.__main__ import parser as edge_parser
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.pipeline import STAGE_ORDER, Exchange, Handler, Stage, compose
from edge.security.settings import serve_app
from edge.server import TlsFiles, upstream_credentials

_NS: collections.Counter[str] = collections.Counter()
CYCLE_HITS = 500


class TimedStage:
    """A stage with a timer around it and around what it calls next, so that its own
    time is its time less its callee's."""

    def __init__(self, name: str, stage: Stage) -> None:
        self.name = name
        self.stage = stage

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        async def timed_next(ex: Exchange) -> None:
            started = time.perf_counter_ns()
            try:
                await call_next(ex)
            finally:
                _NS["inside " + self.name] += time.perf_counter_ns() - started

        started = time.perf_counter_ns()
        try:
            await self.stage(exchange, timed_next)
        finally:
            _NS[self.name] += time.perf_counter_ns() - started


def timed_compose(stages: Mapping[str, Stage]) -> Handler:
    """`edge.pipeline.compose` over the stages, each timed."""
    return compose({name: TimedStage(name, stage) for name, stage in stages.items()})


def secure_app(running: Running, *, timed: bool = True) -> Any:
    """The secure edge's ASGI app, built as `python -m edge serve` builds it; with
    `timed`, its pipeline is composed by `timed_compose`."""
    args = edge_parser().parse_args(serve_arguments(running.upstreams, running.data_dir))
    catalog = Catalog.from_descriptor_set(args.descriptor_set)
    credentials = upstream_credentials(
        args.upstream_ca, TlsFiles(args.upstream_cert, args.upstream_key)
    )
    if timed:  # the one change to the edge as served: each stage is timed
        edge.app.compose = timed_compose  # type: ignore[assignment]
    app, _ = serve_app(args, running.env, catalog, dict(args.upstream), EdgeConfig(), credentials)
    return app


async def drive(app: Any, token: str, customers: int, requests: int) -> dict[str, Any]:
    """Warm `customers` entries, then time `requests` hits; what was measured."""
    answers: collections.Counter[str] = collections.Counter()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            cache = dict(message["headers"]).get(b"x-cache", b"-").decode()
            answers[f"{message['status']} {cache}"] += 1

    async def one(i: int) -> None:
        path = f"/v1/customers/{FIRST_ID + 1 + i % customers}/monthlyUsage"
        scope = {
            "type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
            "query_string": b"", "scheme": "https", "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 443), "http_version": "1.1", "asgi": {"version": "3.0"},
            "headers": [
                (b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
        }  # fmt: skip
        await app(scope, receive, send)

    for i in range(2 * customers):  # the first pass stores, the second reads
        await one(i)
    answers.clear()
    _NS.clear()
    collector = CollectorWatch()
    gc.callbacks.append(collector)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for i in range(requests):
            await one(i)
    finally:
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        gc.callbacks.remove(collector)
    answered, timed = dict(answers), dict(_NS)
    # What hits leave in reference cycles, for the collector to find: counted with the
    # collector off over a few more hits.
    gc.collect()
    gc.disable()
    try:
        for i in range(CYCLE_HITS):
            await one(i)
        cyclic = gc.collect()
    finally:
        gc.enable()
    return {
        "answers": answered, "wall": wall, "cpu": cpu, "ns": timed,
        "collections": dict(collector.runs), "collecting": collector.seconds,
        "cyclic": cyclic,
    }  # fmt: skip


class CollectorWatch:
    """A `gc.callbacks` entry counting the garbage collector's runs by generation, and
    the time they took."""

    def __init__(self) -> None:
        self.runs: collections.Counter[int] = collections.Counter()
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.runs[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._started


def report(measured: dict[str, Any], requests: int) -> None:
    ns: dict[str, int] = measured["ns"]
    per = 1e3 * requests  # ns in all → µs per request
    wall_us = measured["wall"] / requests * 1e6
    print(f"warm staff hits, in process, one after another: {requests:,} requests")
    print("answers: " + ", ".join(f"{k} {v:,}" for k, v in sorted(measured["answers"].items())))
    runs = measured["collections"]
    print(
        f"garbage collections during the hits: young {runs.get(0, 0):,}, "
        f"middle {runs.get(1, 0):,}, full {runs.get(2, 0):,} "
        f"({measured['collecting'] * 1e3:.1f} ms in all); objects {CYCLE_HITS} more hits "
        f"left in reference cycles: {measured['cyclic']:,}"
    )
    if not ns:
        return
    print(f"{'stage':<16}{'inclusive µs':>14}{'own µs':>10}")
    outer = 0
    for name in STAGE_ORDER:
        if name not in ns:
            continue
        outer = outer or ns[name]
        own = ns[name] - ns.get("inside " + name, 0)
        print(f"{name:<16}{ns[name] / per:>14.1f}{own / per:>10.1f}")
    print(f"{'around it':<16}{'':>14}{wall_us - outer / per:>10.1f}   (app, middleware)")
    print(f"per request: {wall_us:.1f} µs wall, {measured['cpu'] / requests * 1e6:.1f} µs CPU")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_stages", description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument(
        "--database-url",
        help="a billing database holding --customers customers already (made by "
        "bench.billing_scale); by default a new one, dropped afterwards",
    )
    parser.add_argument(
        "--untimed",
        action="store_true",
        help="the edge exactly as served, without stage timers (for edge-instructions)",
    )
    args = parser.parse_args(argv)
    name = f"palmgrid_bench_edge_stages_{os.getpid()}"
    database = (
        contextlib.nullcontext(args.database_url)
        if args.database_url
        else customers_database(name, args.customers)
    )
    with (
        database as url,
        tempfile.TemporaryDirectory(prefix="palmgrid-bench-stages-") as data_dir,
    ):
        running = start(url, Path(data_dir))
        try:
            app = secure_app(running, timed=not args.untimed)
            gc.collect()  # and frozen, as `python -m edge serve` does before serving
            gc.freeze()
            measured = uvloop.run(drive(app, running.token, args.customers, args.requests))
        finally:
            running.stop()
    report(measured, max(args.requests, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
