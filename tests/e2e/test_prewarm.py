"""The worker's pre-warm against the running system: after a pre-warm of chosen active
users, their first reads through the real edge (HTTPS, real Memcached, real account
and billing) are cache hits and billing is not asked again; the pre-warm keeps to its
rate, leaves fresh entries alone, and does nothing outside its window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest

from cachetags import TagGenerations
from clients.edge_client import EdgeClient
from servers.runtime import CHINA_STANDARD_TIME, SettableClock
from servers.worker.prewarm import HOT_READS, Connections, PrewarmReport, connect, run_prewarm
from servers.worker.prewarm_config import PrewarmConfig
from servers.worker.token_bucket import TokenBucket
from tests.e2e.conftest import demo_customer
from tests.e2e.system import System, prewarm_settings

NewCustomer = Callable[..., EdgeClient]
RATE = 8.0
HOT_PATHS = ("balance", "monthlyUsage", "bills")
HOT_METHODS = [read.method for read in HOT_READS]
CONFIG = PrewarmConfig(
    prewarm_window_start=time(2, 0),
    prewarm_window_end=time(6, 0),
    prewarm_queries_per_second=RATE,
)


def next_cst(hour: int) -> datetime:
    """The next `hour`:00 China Standard Time from now (recent activity stays recent)."""
    now = datetime.now(CHINA_STANDARD_TIME)
    moment = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment > now else moment + timedelta(days=1)


@dataclass
class Prewarm:
    system: System
    connections: Connections

    def run(self, users: list[str], at: datetime) -> PrewarmReport:
        return run_prewarm(
            self.connections.account,
            self.connections.billing,
            self.connections.store,
            CONFIG,
            clock=SettableClock(at),
            users=users,
        )

    def billing_reads(self) -> int:
        return sum(self.system.billing_calls[m] for m in HOT_METHODS)


@pytest.fixture(scope="module")
def prewarm(system: System) -> Iterator[Prewarm]:
    """The pre-warm connected as the CLI would be: its own `prewarm` service account,
    the edge's Memcached and key file."""
    connections = connect(prewarm_settings(system), CONFIG)
    yield Prewarm(system, connections)
    connections.close()


def first_reads(client: EdgeClient, customer: str) -> list[str]:
    """X-Cache of the app's first screens for a customer: balance, usage, bills."""
    return [
        client.send("GET", f"/v1/customers/{customer}/{path}").headers["x-cache"]
        for path in HOT_PATHS
    ]


def user_of(client: EdgeClient) -> str:
    return str(client.me()["name"])


def test_first_reads_after_a_pre_warm_are_hits(prewarm: Prewarm, new_customer: NewCustomer) -> None:
    chosen = {1: new_customer(1, 2), 3: new_customer(3)}
    sharing = new_customer(2)  # bound to a customer warmed for another user
    left_out = new_customer(4)  # active, but not among the chosen users
    before = prewarm.billing_reads()

    report = prewarm.run([user_of(c) for c in chosen.values()], next_cst(3))

    assert (report.outcome, report.users, report.customers) == ("done", 2, 3)
    assert report.written == 3 * len(HOT_READS) and report.failed == 0
    assert prewarm.billing_reads() == before + report.written
    # The rate: with a burst of one, n calls take at least (n - 1) / rate seconds.
    assert report.queries == report.written + 1  # one page of active users
    assert report.queries <= 1 + RATE * report.seconds
    after_warm = prewarm.billing_reads()
    assert first_reads(chosen[1], demo_customer(1)) == ["HIT"] * 3
    assert first_reads(chosen[1], demo_customer(2)) == ["HIT"] * 3
    assert first_reads(chosen[3], demo_customer(3)) == ["HIT"] * 3
    assert first_reads(sharing, demo_customer(2)) == ["HIT"] * 3
    assert prewarm.billing_reads() == after_warm
    # Without the pre-warm a first read is a miss.
    assert first_reads(left_out, demo_customer(4)) == ["MISS"] * 3


def test_a_second_run_leaves_fresh_entries_alone(
    prewarm: Prewarm, new_customer: NewCustomer
) -> None:
    users = [user_of(new_customer(5))]
    first = prewarm.run(users, next_cst(4))
    reads = prewarm.billing_reads()
    second = prewarm.run(users, next_cst(4))
    assert (first.written, second.written, second.already_fresh) == (3, 0, 3)
    assert prewarm.billing_reads() == reads


class CancelledAtCall(TokenBucket):
    """A bucket that sets `cancelled` as the `call`-th service call takes its token (as
    a worker shutting down would, mid-run)."""

    def __init__(self, call: int, cancelled: threading.Event) -> None:
        super().__init__(RATE)
        self.call = call
        self.cancelled = cancelled
        self.calls = 0

    def take(self) -> None:
        self.calls += 1
        if self.calls == self.call:
            self.cancelled.set()
        super().take()


def test_a_cancelled_pre_warm_stops_before_the_next_user(
    prewarm: Prewarm, new_customer: NewCustomer
) -> None:
    users = [user_of(new_customer(8)), user_of(new_customer(9))]
    reads = prewarm.billing_reads()
    cancelled = threading.Event()
    report = run_prewarm(
        prewarm.connections.account,
        prewarm.connections.billing,
        prewarm.connections.store,
        CONFIG,
        clock=SettableClock(next_cst(3)),
        users=users,
        # Call 1 lists the active users; call 2 is the first user's first read.
        bucket=CancelledAtCall(2, cancelled),
        cancelled=cancelled,
    )
    assert (report.outcome, report.users, report.written) == ("cancelled", 1, 3)
    assert prewarm.billing_reads() == reads + 3


def test_outside_its_window_the_pre_warm_does_nothing(
    prewarm: Prewarm, new_customer: NewCustomer
) -> None:
    client = new_customer(6)
    listed = prewarm.system.account_calls["ListActiveUsers"]
    reads = prewarm.billing_reads()
    for hour in (1, 6, 12):
        report = prewarm.run([user_of(client)], next_cst(hour))
        assert (report.outcome, report.queries, report.written) == ("outside-window", 0, 0)
    assert prewarm.system.account_calls["ListActiveUsers"] == listed
    assert prewarm.billing_reads() == reads
    assert first_reads(client, demo_customer(6)) == ["MISS"] * 3


def test_the_command_line_runs_one_pre_warm_now(
    prewarm: Prewarm, new_customer: NewCustomer
) -> None:
    system = prewarm.system
    client = new_customer(7)
    now = datetime.now(CHINA_STANDARD_TIME)
    env = {
        **os.environ,
        "PALMGRID_PROFILE": "dev",
        "PALMGRID_DATA_DIR": str(system.data_dir),
        "PALMGRID_ACCOUNT_TARGET": system.services["account"].target,
        "PALMGRID_BILLING_TARGET": system.services["billing"].target,
        "PALMGRID_MEMCACHED_SERVERS": system.memcached.address,
        # A window around now, whatever the hour the test runs at.
        "PALMGRID_WORKER_PREWARM_WINDOW_START": (now - timedelta(hours=1)).strftime("%H:%M"),
        "PALMGRID_WORKER_PREWARM_WINDOW_END": (now + timedelta(hours=1)).strftime("%H:%M"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "servers.worker.prewarm", "--user", user_of(client)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["outcome"], report["written"]) == ("done", 3)
    assert first_reads(client, demo_customer(7)) == ["HIT"] * 3


def test_a_pre_warmed_hit_has_the_etag_of_the_body_it_serves(
    prewarm: Prewarm, new_customer: NewCustomer
) -> None:
    # A pre-warmed entry holds the message's bytes and the hit serves them encoded as
    # JSON: its ETag must be that JSON's, as a miss storing the JSON body gives it.
    client = new_customer(10)
    path = f"/v1/customers/{demo_customer(10)}/balance"
    report = prewarm.run([user_of(client)], next_cst(3))
    assert (report.outcome, report.written) == ("done", 3)
    warmed = client.send("GET", path)
    assert warmed.headers["x-cache"] == "HIT"
    TagGenerations(prewarm.connections.store.pool).bump([f"customer/customers/{demo_customer(10)}"])
    fresh = client.send("GET", path)
    assert fresh.headers["x-cache"] == "MISS" and fresh.json == warmed.json
    assert fresh.headers["etag"] == warmed.headers["etag"]
