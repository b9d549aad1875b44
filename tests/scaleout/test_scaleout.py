"""Scale-out on loopback: nginx in front of two edges, two replicas each of account and
billing, two Memcached nodes, PostgreSQL and two workers, under a bounded load of reads
and payments while one edge, one billing replica and one Memcached node are killed in
turn and the account replicas are restarted one after the other (drained). No read
fails; every payment is answered once (or refused cleanly), and the provider's books
and billing's agree. Prints requests, errors and p99 of every phase.

`PALMGRID_SCALEOUT_PHASE_SECONDS` sets each phase's length (3 s unless set; `./dev
scaleout` runs 20-second phases). `./dev test` leaves this folder out (pyproject.toml)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator

import pytest

from clients.edge_client import EdgeClient
from palmlib.balancing import RECONNECT_MAX_MS
from tests.e2e.binding_codes import outbox_at
from tests.e2e.system import CAPTCHA, PASSWORD
from tests.postgres import postgres_schema
from tests.scaleout.cluster import Cluster, start_cluster
from tests.scaleout.load import PAYMENT_FEN, Load

PHASE_SECONDS = float(os.environ.get("PALMGRID_SCALEOUT_PHASE_SECONDS", "3"))
SETTLE_SECONDS = 60.0
_users = itertools.count()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[Cluster]:
    with postgres_schema(postgres_database, f"scaleout_{os.getpid()}") as url:
        running = start_cluster(tmp_path_factory.mktemp("scaleout"), url)
        try:
            yield running
        finally:
            running.close()


def _customer(n: int) -> str:
    return str(3_100_000_000 + n)


def _phone(cluster: Cluster, n: int) -> tuple[EdgeClient, str]:
    """A new app user, signed in through nginx and bound to demo customer n."""
    address = f"10.20.{n}.{next(_users) % 250 + 1}"
    client = EdgeClient(
        cluster.url, ca_file=cluster.ca_file, headers={"X-Forwarded-For": address}, timeout=20
    )
    username = "scaleout" + "".join(chr(ord("a") + int(d)) for d in f"{n:03d}")
    client.register(username, PASSWORD, captcha_answer=CAPTCHA)
    client.login(username, PASSWORD, captcha_answer=CAPTCHA)
    customer = _customer(n)
    client.send_binding_code(customer, captcha_answer=CAPTCHA)
    target = cluster.processes["notification"].address
    code = outbox_at(cluster.settings, target, "binding.code", customer)[0].parameters["code"]
    client.bind_customer(customer, code)
    return client, customer


def _during(load: Load, name: str, fault: Callable[[], None], recover: Callable[[], None]) -> None:
    load.phase(f"during {name}")
    fault()
    time.sleep(PHASE_SECONDS)
    recover()
    load.phase(f"after {name}")
    time.sleep(PHASE_SECONDS)


def _rolling_restart(cluster: Cluster, service: str) -> None:
    """Each replica in turn: SIGTERM (it drains, then stops), started again."""
    for n in (1, 2):
        name = f"{service}-{n}"
        assert cluster.stop(name) == 0, f"{name} did not stop cleanly"
        cluster.start(name)
        # Like a rolling update's minReadySeconds: the clients reconnect to it (within
        # palmlib.balancing's 2 s backoff) before the next replica goes.
        time.sleep(RECONNECT_MAX_MS / 1000 + 1)


def _balance(client: EdgeClient, customer: str) -> int:
    return int(client.balance(customer)["balanceFen"])


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_faults_fail_no_read_and_lose_no_payment(cluster: Cluster) -> None:
    readers = [_phone(cluster, n) for n in (1, 2)]
    payers = [_phone(cluster, n) for n in (3, 4)]
    before = {customer: _balance(client, customer) for client, customer in payers}
    load = Load(readers, payers)
    # Payments are limited to 10 a minute per user (billing.proto); retries count too.
    load.start(pay_every=8.0)
    try:
        time.sleep(1.0)
        load.phase("before")
        time.sleep(PHASE_SECONDS)
        _during(
            load, "edge-1 killed", lambda: cluster.kill("edge-1"), lambda: cluster.start("edge-1")
        )
        _during(
            load,
            "billing-1 killed",
            lambda: cluster.kill("billing-1"),
            lambda: cluster.start("billing-1"),
        )
        _during(
            load,
            "memcached node 0 killed",
            lambda: cluster.nodes[0].process.kill(),
            lambda: cluster.restart_node(0),
        )
        load.phase("during account rolling restart")
        _rolling_restart(cluster, "account")
        load.phase("after account rolling restart")
        time.sleep(PHASE_SECONDS)
    finally:
        load.stop()
    print()
    for tally in load.tallies[1:]:
        print(tally.line())

    read_errors = [
        error for tally in load.tallies for error in tally.errors if error.startswith("GET")
    ]
    assert read_errors == []
    assert sum(len(t.latencies) for t in load.tallies[1:]) > 0
    unanswered = [p for p in load.payments if not p.name and not p.refused]
    assert unanswered == []
    assert [p.refused for p in load.payments if p.refused] == []

    # Every payment settles, once, and the provider's books and billing's agree.
    answered = [p for p in load.payments if p.name]
    assert answered, "no payment was made"
    states = _settled(payers, answered)
    assert set(states.values()) == {"PAYMENT_STATE_SUCCEEDED"}, states
    provider = {
        order["transaction_id"]: order
        for order in cluster.sandbox.book.snapshot()
        if order["trade_state"] == "SUCCESS"
    }
    billed = _provider_orders(payers)
    assert len(billed) == len(answered) == len({p.request_id for p in answered})
    assert {order: provider[order]["total"] for order in billed} == dict.fromkeys(
        billed, PAYMENT_FEN
    )
    assert set(provider) == set(billed)
    for client, customer in payers:
        paid = sum(PAYMENT_FEN for p in answered if p.customer == customer)
        assert _balance(client, customer) - before[customer] == paid


def _settled(payers: list[tuple[EdgeClient, str]], answered: list[object]) -> dict[str, str]:
    """Each payment's state once none is pending any more (or the wait is over)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        states = {
            payment["name"]: payment["state"]
            for client, customer in payers
            for payment in client.payments(customer, pageSize=1000)["payments"]
        }
        if len(states) >= len(answered) and set(states.values()) <= {
            "PAYMENT_STATE_SUCCEEDED",
            "PAYMENT_STATE_FAILED",
        }:
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def _provider_orders(payers: list[tuple[EdgeClient, str]]) -> list[str]:
    """The provider's transaction ids of the customers' succeeded payments."""
    return [
        payment["providerOrderId"]
        for client, customer in payers
        for payment in client.payments(customer, pageSize=1000)["payments"]
        if payment["state"] == "PAYMENT_STATE_SUCCEEDED"
    ]
