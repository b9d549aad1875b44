"""The worker's pre-warm: first-request hit ratio of active users, and its database load.

    python -m bench.prewarm [--users 120] [--rate 20]

In one run, against a whole PalmGrid in this process (real account and billing over
mTLS, a real Memcached, the edge serving HTTPS; tests/e2e/system.py):

1. `--users` customer users register, sign in and bind a demo customer each (every
   fifth binds a second one): all active;
2. **baseline**: half of them, not pre-warmed, make their first requests of the day
   (balance, monthly usage, bills of each bound customer) through the edge;
3. the pre-warm runs for the other half, at `--rate` service calls per second (the
   setting PREWARM_QUERIES_PER_SECOND; a call is not one database statement: each
   costs its service one read or more), while a sampler counts the calls the services
   receive: average and busiest one-second rate against the configured one;
4. **pre-warmed**: the other half make the same first requests.

Printed: the hit ratio of first requests without and with the pre-warm (target
≥ 90 %), the upstream calls those requests caused, and the pre-warm's load in
service calls per second (not database statements).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from clients.edge_client import EdgeClient
from servers.runtime import CHINA_STANDARD_TIME, SettableClock
from servers.worker.prewarm import HOT_READS, PrewarmReport, connect, run_prewarm
from servers.worker.prewarm_config import PrewarmConfig
from tests.e2e.binding_codes import bind
from tests.e2e.system import CAPTCHA, PASSWORD, System, prewarm_settings, start_system

TARGET_HIT_RATIO = 0.90
HOT_PATHS = ("balance", "monthlyUsage", "bills")
FIRST_CUSTOMER = 3_100_000_001


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Sampler:
    """Counts the calls the services receive, every 50 ms, for the busiest second."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def calls(self) -> int:
        billing = sum(self.system.billing_calls[read.method] for read in HOT_READS)
        return billing + self.system.account_calls["ListActiveUsers"]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.calls()))
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), self.calls()))

    def busiest_second(self) -> int:
        """Most calls received within any one second."""
        most = 0
        for i, (start, first) in enumerate(self.samples):
            for at, count in self.samples[i:]:
                if at - start > 1.0:
                    break
                most = max(most, count - first)
        return most


def active_users(system: System, count: int) -> list[tuple[EdgeClient, list[str]]]:
    """`count` signed-in customer users, each with their bound customers."""
    made = []
    for n in range(count):
        address = f"10.9.{n // 250}.{n % 250 + 1}"
        client = EdgeClient(
            system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": address}
        )
        username = "bench" + "".join(chr(97 + (n // 26**i) % 26) for i in range(4))
        client.register(username, PASSWORD, captcha_answer=CAPTCHA)
        client.login(username, PASSWORD, captcha_answer=CAPTCHA)
        customers = [str(FIRST_CUSTOMER + n)]
        if n % 5 == 0:
            customers.append(str(FIRST_CUSTOMER + count + n // 5))
        for customer in customers:
            bind(system, client, customer)
        made.append((client, customers))
    return made


def first_requests(users: Sequence[tuple[EdgeClient, list[str]]]) -> Counter[str]:
    """X-Cache of each user's first requests for each bound customer."""
    counts: Counter[str] = Counter()
    for client, customers in users:
        for customer, path in itertools.product(customers, HOT_PATHS):
            counts[client.send("GET", f"/v1/customers/{customer}/{path}").headers["x-cache"]] += 1
    return counts


def in_window() -> datetime:
    """03:00 China Standard Time after now: inside the default window."""
    now = datetime.now(CHINA_STANDARD_TIME)
    moment = now.replace(hour=3, minute=0, second=0, microsecond=0)
    return moment if moment > now else moment + timedelta(days=1)


def measure(system: System, args: argparse.Namespace) -> bool:
    log(f"{args.users} active users (register, sign in, bind)")
    users = active_users(system, args.users)
    half = len(users) // 2
    baseline_users, warmed_users = users[:half], users[half:]
    log(f"baseline: first requests of {len(baseline_users)} users, no pre-warm")
    billing_before = sum(system.billing_calls.values())
    baseline = first_requests(baseline_users)
    baseline_upstream = sum(system.billing_calls.values()) - billing_before
    config = PrewarmConfig(prewarm_queries_per_second=args.rate)
    log(f"pre-warm of {len(warmed_users)} users at {args.rate:g} service calls/s")
    connections = connect(prewarm_settings(system), config)
    chosen = [str(client.me()["name"]) for client, _ in warmed_users]
    try:
        with Sampler(system) as sampler:
            report = run_prewarm(
                connections.account,
                connections.billing,
                connections.store,
                config,
                clock=SettableClock(in_window()),
                users=chosen,
            )
    finally:
        connections.close()
    log(f"pre-warmed: first requests of {len(warmed_users)} users")
    billing_before = sum(system.billing_calls.values())
    warmed = first_requests(warmed_users)
    warmed_upstream = sum(system.billing_calls.values()) - billing_before
    for client, _ in users:
        client.close()
    return report_results(
        baseline, baseline_upstream, warmed, warmed_upstream, report, sampler, args
    )


def _ratio(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return counts["HIT"] / total if total else 0.0


def report_results(
    baseline: Counter[str],
    baseline_upstream: int,
    warmed: Counter[str],
    warmed_upstream: int,
    report: PrewarmReport,
    sampler: Sampler,
    args: argparse.Namespace,
) -> bool:
    print()
    print("first requests of the day (balance, monthly usage, bills per bound customer)")
    print(f"{'':<14}{'requests':>10}{'hits':>8}{'hit ratio':>11}{'billing calls':>15}")
    for label, counts, upstream in (
        ("no pre-warm", baseline, baseline_upstream),
        ("pre-warmed", warmed, warmed_upstream),
    ):
        total = sum(counts.values())
        print(f"{label:<14}{total:>10}{counts['HIT']:>8}{_ratio(counts):>11.1%}{upstream:>15}")
    hit_ratio = _ratio(warmed)
    print(f"pre-warmed hit ratio {hit_ratio:.1%} (target >= {TARGET_HIT_RATIO:.0%})")
    print()
    busiest = sampler.busiest_second()
    print(
        f"pre-warm: {report.users} users, {report.customers} customers, "
        f"{report.written} entries written, {report.failed} failed, outcome {report.outcome}"
    )
    print(
        f"load on the services: {report.queries} service calls in {report.seconds:.1f} s = "
        f"{report.queries_per_second:.1f}/s on average, busiest second {busiest} "
        f"(configured {args.rate:g}/s, burst 1)"
    )
    # A token bucket with a burst of 1 allows 1 + rate × t calls in any t seconds.
    held = report.queries <= 1 + args.rate * report.seconds and busiest <= 1 + args.rate
    print(f"held under the configured rate (1 + rate × time): {'yes' if held else 'NO'}")
    return hit_ratio >= TARGET_HIT_RATIO and held and report.failed == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prewarm", description=__doc__)
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument(
        "--rate", type=float, default=20.0, help="pre-warm service calls per second"
    )
    args = parser.parse_args(argv)
    customers = args.users + args.users // 5 + 1
    with tempfile.TemporaryDirectory(prefix="palmgrid-bench-prewarm-") as data_dir:
        log(f"starting the system ({customers} demo customers)")
        system = start_system(Path(data_dir), demo_customers=customers)
        try:
            return 0 if measure(system, args) else 1
        finally:
            system.stop()


if __name__ == "__main__":
    raise SystemExit(main())
