"""The daily-usage read at scale: `python -m bench.daily_usage_read [--customers N]
[--days D] [--samples K] [--keep | --reuse]`.

Generates a fresh PostgreSQL database with the billing schema (the service's own
migrations) and N customers (1,000,000 by default) × D days (400) of daily usage, one
meter each and about one day in a hundred a gap, loaded with COPY (keys built after).
Then, for customers picked at random, it times `ListDailyUsage` over the whole D days:

- **cold, server-side**: the servicer method called the way the gRPC runtime calls it,
  database included (a staff caller, so the scope check reads the customer's office);
- **cold, gRPC**: the same call through a real server on loopback;
- **cached**: what the edge's cache stage does on a hit — the entry and its tag
  generations from Memcached in one round trip, AES-GCM open, parse the message —
  against a real Memcached holding the answers stored after the cold reads.

It prints p50 and p95 of each. The full size is some 400 million rows (tens of GB):
give it the disk and the hours; `--customers 2000` runs in under a minute.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.billing_scale import (
    CUSTOMER_COLUMNS,
    FIRST_ID,
    customer_lines,
    drop_database,
    fresh_database,
    load_tables,
    percentile,
    serve,
    staff_everywhere,
)
from bench.edge_cache import cache_answer, timed_hit
from cachetags import CachePool, EntryStore, ValueCipher
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from servers.runtime import CallInfo
from servers.runtime.calls import bind_call
from tools import memcached

METHOD = "palmgrid.billing.v1.BillingService.ListDailyUsage"


def daily_lines(customers: int, days: Sequence[date], stamp: str) -> Iterator[str]:
    """COPY lines of billing_daily_usage: each customer's days, gaps left out."""
    texts = [day.isoformat() for day in days]
    for n in range(1, customers + 1):
        cid = FIRST_ID + n
        for k, text in enumerate(texts):
            if (n + k) % 97 == 0:
                continue  # a gap
            yield f"{cid}\t{text}\tE{n:08d}\t{3_000 + (n * 31 + k * 17) % 9_000}\tACTUAL\t{stamp}\n"


def generate(url: str, customers: int, days: Sequence[date], log: Callable[[str], None]) -> None:
    stamp = datetime.now(UTC).isoformat()
    load_tables(
        url,
        [
            ("billing_customer", CUSTOMER_COLUMNS, lambda: customer_lines(customers, stamp)),
            (
                "billing_daily_usage",
                "customer_id, day, meter_id, energy_wh, quality, update_time",
                lambda: daily_lines(customers, days, stamp),
            ),
        ],
        log,
    )


def measure(
    url: str, customers: int, days: Sequence[date], samples: int, data_dir: Path
) -> dict[str, list[float]]:
    """Milliseconds per read: cold server-side, cold gRPC and cached."""
    target, signer = serve(url, customers, data_dir)
    cache = memcached.start(memory_mb=256)
    pool = CachePool([cache.address])
    store = EntryStore(pool, ValueCipher.generate())
    principal = staff_everywhere()
    bind_call(CallInfo(request_id="bench", method="bench", principal=principal))
    rng = random.Random(11)
    figures: dict[str, list[float]] = {"cold server-side": [], "cold gRPC": [], "cached": []}
    stored: list[tuple[str, service_pb2.ListDailyUsageRequest]] = []
    try:
        for i in range(samples + 20):
            customer = f"customers/{FIRST_ID + rng.randint(1, customers)}"
            request = service_pb2.ListDailyUsageRequest(
                parent=customer, start_date=days[0].isoformat(), end_date=days[-1].isoformat()
            )
            started = time.perf_counter()
            reply = target.servicer.ListDailyUsage(request, None)  # type: ignore[arg-type]
            server_side = (time.perf_counter() - started) * 1000
            metadata = [signer.metadata(principal, audience="billing")]
            started = time.perf_counter()
            target.stub.ListDailyUsage(request, metadata=metadata)
            over_grpc = (time.perf_counter() - started) * 1000
            if i >= 20:
                figures["cold server-side"].append(server_side)
                figures["cold gRPC"].append(over_grpc)
            cache_answer(store, METHOD, customer, request, reply)
            stored.append((customer, request))
        for i, (customer, request) in enumerate(stored):
            elapsed = timed_hit(store, METHOD, customer, request)
            if i >= 20:
                figures["cached"].append(elapsed)
    finally:
        pool.close()
        cache.process.kill()
        cache.process.wait()
        target.close()
    return figures


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, list[float]]:
    from servers.runtime.migrations import migrate

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=args.days - 1 - k) for k in range(args.days)]
    name = f"palmgrid_bench_daily_{args.customers}_{args.days}"
    url, ready = fresh_database(name, args.reuse)
    try:
        if not ready:
            log(f"{args.customers:,} customers × {args.days} days → {name}")
            started = time.perf_counter()
            migrate("billing", url)
            generate(url, args.customers, days, log)
            log(f"  loaded in {time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory(prefix="palmgrid-bench-") as data_dir:
            log(f"measuring {args.samples:,} reads of {args.days} days")
            return measure(url, args.customers, days, args.samples, Path(data_dir))
    finally:
        if args.keep or args.reuse:
            log(f"kept {url}")
        else:
            drop_database(name)


def report(figures: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(f"\nListDailyUsage, {args.days} days, {args.customers:,} customers in PostgreSQL (ms)")
    print(f"{'read':<18}{'p50':>10}{'p95':>10}")
    for name, values in figures.items():
        print(f"{name:<18}{statistics.median(values):>10.2f}{percentile(values, 0.95):>10.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.daily_usage_read", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--samples", type=int, default=500, help="reads of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="use one kept by --keep")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report(run(args, log), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
