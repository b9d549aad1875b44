"""The edge against a hand-written FastAPI proxy and grpc-gateway, on the same upstream.

    python -m bench edge [--seconds 6] [--connections 32]
    python -m bench edge --tracing-cost [--seconds 4] [--rounds 3]

In one run: start the proxies in front of the bench upstream (bench/upstream.py:
billing's ListMonthlyUsage with 24 fixed months, and CreatePayment), check that they
answer the same JSON (grpc-gateway writes `null` for an unset message field where the
others leave it out), then load each with wrk on
`GET /v1/customers/3100000001/monthlyUsage` and on a small `POST …/payments`, in rounds
that alternate between the proxies, and report the median over the rounds of
requests/s, p50/p99 latency and the proxy's own CPU per request (user + system time of
its process over the measured run, divided by the requests served).

On a machine with two or more CPUs the proxy gets CPU 0 to itself and the upstream and
wrk share CPU 1, so that the proxy, not the load generator or the upstream, is what
runs out of CPU; requests/s then measures the proxy. The edge runs with every stage of
its pipeline on (errors, route, authorize, build_request, metadata, respond, call).

`--tracing-cost` compares the edge as shipped, tracing off (no OTEL_* variables: the
API's no-op tracer), with the same edge whose tracing code is taken out
(bench/edge_untraced.py), in the same alternating rounds on the GET, and prints the
ratio of their requests/s (target: tracing off costs under 3%).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.grpc_gateway import build as build_grpc_gateway
from bench.load import LoadResult, Process, cpu_seconds, free_port, run_wrk, wait_listening

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTORS = ROOT / "generated" / "palmgrid" / "descriptors.binpb"
SERVICE = "palmgrid.billing.v1.BillingService"
USAGE_PATH = "/v1/customers/3100000001/monthlyUsage"
PAYMENT_PATH = "/v1/customers/3100000001/payments"
PAYMENT_BODY = orjson.dumps(
    {
        "amountFen": "5000",
        "channel": "PAYMENT_CHANNEL_WECHAT_PAY",
        "requestId": "0b7c4a52-6f7e-4a8e-9c1d-2f3a4b5c6d7e",
    }
)
PROXIES = ("fastapi", "edge", "grpc-gateway")
ENDPOINTS = (
    ("GET monthlyUsage (24 months)", USAGE_PATH, None),
    ("POST payments (small)", PAYMENT_PATH, PAYMENT_BODY),
)
TARGET_RPS_RATIO = 1.5
# The edge against grpc-gateway (Go), on the small POST.
TARGET_GATEWAY_POST_RATIO = 0.5
TARGET_CPU_RATIO = 2 / 3
# Tracing off may cost at most this share of the edge's requests/s.
TRACING_OFF_MAX_COST = 0.03


@dataclass(frozen=True)
class Measurement:
    proxy: str
    endpoint: str
    load: LoadResult
    cpu_us: float
    upstream_cpu_us: float


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench edge", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=3, help="runs per proxy and endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--tracing-cost",
        action="store_true",
        help="edge with tracing off vs the edge without its tracing code",
    )
    args = parser.parse_args(argv)
    proxy_names = ("edge-untraced", "edge") if args.tracing_cost else PROXIES
    endpoints = ENDPOINTS[:1] if args.tracing_cost else ENDPOINTS

    cpus = sorted(os.sched_getaffinity(0))
    proxy_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else (None, None)
    upstream_port = free_port()
    upstream = Process(
        [sys.executable, "-m", "bench.upstream", str(upstream_port)], load_cpus, ROOT
    )
    proxies: dict[str, tuple[Process, str]] = {}
    results: list[Measurement] = []
    try:
        wait_listening(upstream_port, upstream.proc)
        for proxy in proxy_names:
            port = free_port()
            proxies[proxy] = (
                Process(_proxy_argv(proxy, port, upstream_port), proxy_cpus, ROOT),
                f"http://127.0.0.1:{port}",
            )
        for process, base in proxies.values():
            wait_listening(int(base.rsplit(":", 1)[1]), process.proc)
        answers = {proxy: _answers(proxy, base) for proxy, (_, base) in proxies.items()}
        # Rounds alternate between the proxies so that other load on the machine falls
        # on both alike; each figure reported is the median of its rounds.
        for endpoint, path, body in endpoints:
            for _ in range(args.rounds):
                for proxy, (process, base) in proxies.items():
                    results.append(
                        _measure(
                            proxy, endpoint, base + path, body, process, upstream, args, load_cpus
                        )
                    )
        first, *others = (answers[name] for name in proxy_names)
        same = all(other == first for other in others)
    finally:
        for process, _ in proxies.values():
            process.stop()
        upstream.stop()
    if args.tracing_cost:
        return _report_tracing_cost(_medians(results), same, proxy_cpus is not None, args)
    return _report(_medians(results), same, proxy_cpus is not None, args)


def _measure(
    proxy: str,
    endpoint: str,
    url: str,
    body: bytes | None,
    process: Process,
    upstream: Process,
    args: argparse.Namespace,
    load_cpus: set[int] | None,
) -> Measurement:
    run_wrk(url, seconds=args.warmup, connections=args.connections, body=body, cpus=load_cpus)
    before, up_before = cpu_seconds(process.pid), cpu_seconds(upstream.pid)
    load = run_wrk(
        url, seconds=args.seconds, connections=args.connections, body=body, cpus=load_cpus
    )
    served = max(load.requests, 1)
    return Measurement(
        proxy,
        endpoint,
        load,
        (cpu_seconds(process.pid) - before) / served * 1e6,
        (cpu_seconds(upstream.pid) - up_before) / served * 1e6,
    )


def _medians(results: list[Measurement]) -> list[Measurement]:
    out = []
    for key in dict.fromkeys((m.endpoint, m.proxy) for m in results):
        runs = [m for m in results if (m.endpoint, m.proxy) == key]
        mid = len(runs) // 2

        def median(values: list[float], mid: int = mid) -> float:
            return sorted(values)[mid]

        load = LoadResult(
            requests=sum(m.load.requests for m in runs),
            errors=sum(m.load.errors for m in runs),
            seconds=sum(m.load.seconds for m in runs),
            rps=median([m.load.rps for m in runs]),
            p50_ms=median([m.load.p50_ms for m in runs]),
            p99_ms=median([m.load.p99_ms for m in runs]),
        )
        out.append(
            Measurement(
                key[1],
                key[0],
                load,
                median([m.cpu_us for m in runs]),
                median([m.upstream_cpu_us for m in runs]),
            )
        )
    return out


def _proxy_argv(proxy: str, port: int, upstream_port: int) -> list[str]:
    if proxy == "grpc-gateway":
        return [str(build_grpc_gateway()), f"127.0.0.1:{port}", f"127.0.0.1:{upstream_port}"]
    if proxy == "fastapi":
        return [
            sys.executable,
            "-m",
            "bench.fastapi_proxy",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            f"127.0.0.1:{upstream_port}",
        ]
    module = "bench.edge_untraced" if proxy == "edge-untraced" else "edge"
    return [
        sys.executable,
        "-m",
        module,
        "serve",
        "--descriptor-set",
        str(DESCRIPTORS),
        "--upstream",
        f"{SERVICE}=127.0.0.1:{upstream_port}",
        "--listen",
        f"127.0.0.1:{port}",
        "--plaintext",
        "--upstream-plaintext",
        "--log-level",
        "warning",
    ]


def _answers(proxy: str, base: str) -> tuple[object, object]:
    """Both benchmarked answers, parsed, to check the proxies agree before timing them
    (grpc-gateway's `null`s for unset message fields left out: the others omit them)."""
    with httpx.Client(base_url=base, timeout=10) as http:
        usage = http.get(USAGE_PATH)
        pay = http.post(
            PAYMENT_PATH, content=PAYMENT_BODY, headers={"content-type": "application/json"}
        )
    for r in (usage, pay):
        if r.status_code != 200:
            raise RuntimeError(f"{base}{r.request.url.path}: {r.status_code} {r.text[:200]}")
    if proxy == "grpc-gateway":
        return _without_nulls(usage.json()), _without_nulls(pay.json())
    return usage.json(), pay.json()


def _without_nulls(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _report_tracing_cost(
    results: list[Measurement], same: bool, pinned: bool, args: argparse.Namespace
) -> int:
    print()
    print(
        f"edge, tracing off vs tracing code absent — wrk, 1 thread, {args.connections} "
        f"connections, median of {args.rounds} runs of {args.seconds:g} s"
        + ("; edge pinned to its own CPU" if pinned else "")
    )
    print(f"same JSON from both: {'yes' if same else 'NO'}")
    for m in results:
        print(
            f"{m.endpoint:<30} {m.proxy:<14} {m.load.rps:>8.0f} req/s  p50 {m.load.p50_ms:.2f} ms"
            f"  p99 {m.load.p99_ms:.2f} ms  CPU {m.cpu_us:.0f} µs/req  errors {m.load.errors}"
        )
    by = {m.proxy: m for m in results}
    per_request = _tracing_calls_us()
    print(
        f"the tracing calls themselves, timed in this process: {per_request:.2f} µs per request "
        f"({per_request / by['edge'].cpu_us:.2%} of the edge's CPU per request)"
    )
    ratio = by["edge"].load.rps / by["edge-untraced"].load.rps
    cpu_ratio = by["edge"].cpu_us / by["edge-untraced"].cpu_us
    passed = ratio >= 1 - TRACING_OFF_MAX_COST
    print(
        f"tracing off / absent: req/s ×{ratio:.3f}, CPU per request ×{cpu_ratio:.3f} "
        f"(target req/s ≥ ×{1 - TRACING_OFF_MAX_COST:.2f}) — {'met' if passed else 'NOT met'}"
    )
    errors = sum(m.load.errors for m in results)
    return 0 if passed and same and errors == 0 else 1


def _tracing_calls_us(repeat: int = 20_000) -> float:
    """µs per request of what the edge's tracing does with tracing off: the front span,
    its naming, the `traceparent` for the phone and for the upstream metadata."""
    from edge.tracing import finish_span, request_span, traceparent

    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            with request_span("GET", headers) as span:
                traceparent()
                traceparent(span)
                finish_span(span, "GET", "/v1/{name=customers/*}/monthlyUsage", 200)
        best = min(best, time.perf_counter() - started)
    return best / repeat * 1e6


def _report(results: list[Measurement], same: bool, pinned: bool, args: argparse.Namespace) -> int:
    print()
    print(
        f"edge vs FastAPI proxy and grpc-gateway — wrk, 1 thread, {args.connections} connections, "
        f"median of {args.rounds} runs of {args.seconds:g} s (each after {args.warmup:g} s "
        "warm-up)" + ("; proxy pinned to its own CPU" if pinned else "")
    )
    print(f"same JSON from every proxy: {'yes' if same else 'NO'}")
    print()
    header = (
        f"{'endpoint':<30} {'proxy':<13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU µs/req':>11} {'errors':>7}"
    )
    print(header)
    print("-" * len(header))
    for m in results:
        print(
            f"{m.endpoint:<30} {m.proxy:<13} {m.load.rps:>8.0f} {m.load.p50_ms:>8.2f} "
            f"{m.load.p99_ms:>8.2f} {m.cpu_us:>11.0f} {m.load.errors:>7}"
        )
    print()
    ok = same
    for endpoint in dict.fromkeys(m.endpoint for m in results):
        by = {m.proxy: m for m in results if m.endpoint == endpoint}
        edge, base = by["edge"], by["fastapi"]
        rps_ratio = edge.load.rps / base.load.rps
        cpu_ratio = edge.cpu_us / base.cpu_us
        passed = rps_ratio >= TARGET_RPS_RATIO and cpu_ratio <= TARGET_CPU_RATIO
        ok = ok and passed and edge.load.errors == 0 and base.load.errors == 0
        print(
            f"{endpoint}: edge/FastAPI req/s ×{rps_ratio:.2f} (target ≥ ×{TARGET_RPS_RATIO}), "
            f"CPU per request ×{cpu_ratio:.2f} (target ≤ ×{TARGET_CPU_RATIO:.2f}) "
            f"— {'met' if passed else 'NOT met'}"
        )
        gateway = by["grpc-gateway"]
        ok = ok and gateway.load.errors == 0
        gateway_ratio = edge.load.rps / gateway.load.rps
        line = f"{endpoint}: edge/grpc-gateway req/s ×{gateway_ratio:.2f}"
        if endpoint.startswith("POST"):
            met = gateway_ratio >= TARGET_GATEWAY_POST_RATIO
            ok = ok and met
            line += f" (target ≥ ×{TARGET_GATEWAY_POST_RATIO}) — {'met' if met else 'NOT met'}"
        print(line)
    print(
        "(upstream CPU per request, for scale: "
        + ", ".join(
            f"{m.proxy} {m.endpoint.split()[1]} {m.upstream_cpu_us:.0f} µs" for m in results
        )
        + ")"
    )
    return 0 if ok else 1
