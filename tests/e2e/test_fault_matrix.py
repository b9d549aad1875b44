"""The fault matrix over one running system: billing's database stopped, restarted and
stuck on a lock; then two services stopped (last, since they stay down).

Billing runs on a PostgreSQL server of its own (`tools.pg_cluster`), so the tests can
take it away. Pass, for the database: while it is down, billing's uncached reads fail
fast and cleanly (503, `UPSTREAM_UNAVAILABLE` naming the database, `Retry-After`; never
a 500), cached reads keep being served, other services' routes are untouched, and a
payment is refused without moving money; once it is back, the same requests succeed
without restarting anything, the refused payment retried with its `requestId` moves
money once, and a restart in the middle of a stream of reads answers each of them 200
or 503; a read stuck on a lock is 504 at its deadline and its statement is cancelled,
so nothing is left waiting.

Pass, for a stopped service: its routes answer 503 at once, with `UPSTREAM_UNAVAILABLE`
and `Retry-After`; a cached read of it whose entry has expired is still served, marked
`stale-if-error`, where its policy allows; every other service answers as before.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from cachetags import TagInvalidator
from clients.edge_client import EdgeClient
from clients.edge_errors import EdgeApiError
from edge.errors import UNAVAILABLE_RETRY_AFTER_SECONDS
from tests.e2e.binding_codes import refused
from tests.e2e.conftest import demo_customer
from tests.e2e.system import System, start_system
from tests.e2e.test_cache import wait_until_succeeded
from tools.pg_cluster import PrivateCluster

NewCustomer = Callable[..., EdgeClient]
CUSTOMER = demo_customer(3)
# Past the 30 s lifetime of a cached outage list, inside its 600 s stale-if-error.
EXPIRED = 31.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    server = PrivateCluster()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, cluster: PrivateCluster) -> Iterator[System]:
    url = cluster.create_database("billing")
    running = start_system(
        tmp_path_factory.mktemp("system"), settings_overrides={"billing_database_url": url}
    )
    yield running
    running.stop()


def payments_path(customer: str) -> str:
    return f"/v1/customers/{customer}/payments"


def wait_for_success(action: Callable[[], object], seconds: float = 10.0) -> float:
    """Seconds until `action` first succeeds (a 503 is the database still starting)."""
    started = time.monotonic()
    while True:
        try:
            action()
            return time.monotonic() - started
        except EdgeApiError as error:
            assert error.status == 503, error
            assert time.monotonic() - started < seconds, "billing did not recover"
            time.sleep(0.1)


def test_a_stopped_database_fails_reads_cleanly_and_they_recover_without_a_restart(
    system: System, cluster: PrivateCluster, new_customer: NewCustomer
) -> None:
    client = new_customer(3)
    client.send("GET", payments_path(CUSTOMER))
    before = client.balance(CUSTOMER)  # now cached
    cluster.stop()
    try:
        started = time.monotonic()
        error = refused(lambda: client.send("GET", payments_path(CUSTOMER)))
        elapsed = time.monotonic() - started
        assert (error.status, error.reason) == (503, "UPSTREAM_UNAVAILABLE")
        assert error.metadata == {"dependency": "database"}
        assert error.headers["retry-after"] == "3"
        assert elapsed < 2.0, f"a refused connection took {elapsed:.2f} s to report"
        # The cache shields reads it holds; other services do not notice.
        cached = client.balance_reply(CUSTOMER)
        assert cached.headers["x-cache"] == "HIT"
        assert cached.json == before
        assert client.outages()["outages"] is not None
        # A payment is refused before any money moves.
        request_id = str(uuid.uuid4())
        error = refused(
            lambda: client.pay(CUSTOMER, 500, "PAYMENT_CHANNEL_WECHAT_PAY", request_id=request_id)
        )
        assert error.status == 503
    finally:
        cluster.start()
    wait_for_success(lambda: client.send("GET", payments_path(CUSTOMER)))
    payment = client.pay(CUSTOMER, 500, "PAYMENT_CHANNEL_WECHAT_PAY", request_id=request_id)
    again = client.pay(CUSTOMER, 500, "PAYMENT_CHANNEL_WECHAT_PAY", request_id=request_id)
    assert again["name"] == payment["name"]
    listed = client.send("GET", payments_path(CUSTOMER)).json["payments"]
    assert [p["name"] for p in listed].count(payment["name"]) == 1
    wait_until_succeeded(client, payment["name"])
    # Billing announces the confirmed payment after its commit, as its change hook does.
    assert TagInvalidator.shared([system.memcached.address]).bump_customers([CUSTOMER])
    assert int(client.balance(CUSTOMER)["balanceFen"]) == int(before["balanceFen"]) + 500


def test_a_restart_under_a_stream_of_reads_answers_each_one_200_or_503(
    system: System, cluster: PrivateCluster, new_customer: NewCustomer
) -> None:
    client = new_customer(4)
    path = payments_path(demo_customer(4))
    statuses: list[int] = []
    stop = threading.Event()

    def read_until_stopped() -> None:
        while not stop.is_set():
            try:
                statuses.append(client.send("GET", path).status)
            except EdgeApiError as error:
                statuses.append(error.status)
            time.sleep(0.02)

    reader = threading.Thread(target=read_until_stopped)
    reader.start()
    try:
        time.sleep(0.3)
        cluster.restart()
        wait_for_success(lambda: client.send("GET", path))
        time.sleep(0.3)
    finally:
        stop.set()
        reader.join()
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[-1] == 200


def test_a_read_stuck_on_a_lock_is_504_at_its_deadline_and_leaves_nothing_waiting(
    system: System, cluster: PrivateCluster, new_customer: NewCustomer
) -> None:
    client = new_customer(5)
    path = payments_path(demo_customer(5))
    client.send("GET", path)
    outcomes: list[tuple[int, str, float]] = []

    def read() -> None:
        started = time.monotonic()
        error = refused(lambda: client.send("GET", path, headers={"Grpc-Timeout": "1S"}))
        outcomes.append((error.status, error.reason, time.monotonic() - started))

    # Another session holds the table billing reads: its reads wait on the lock.
    with psycopg.connect(cluster.database_url("billing")) as holder:
        holder.execute("LOCK TABLE payment IN ACCESS EXCLUSIVE MODE")
        readers = [threading.Thread(target=read) for _ in range(6)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        # PostgreSQL cancelled each statement at its call's deadline: while the lock is
        # still held, no billing connection waits on it any more.
        deadline = time.monotonic() + 2.0
        while waiting_on_locks(holder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_on_locks(holder) == 0
    assert [(status, reason) for status, reason, _ in outcomes] == [(504, "DEADLINE_EXCEEDED")] * 6
    slowest = max(seconds for _, _, seconds in outcomes)
    assert slowest < 3.0, f"a 1 s deadline was answered after {slowest:.2f} s"
    assert client.send("GET", path).status == 200


def waiting_on_locks(connection: psycopg.Connection[tuple[int]]) -> int:
    """Statements of calls waiting on a lock in billing's database. Billing's sweep of
    pending payments (a background job, one thread, no caller) waits too, and is not
    counted: it alone filters on `check_time IS NULL`."""
    row = connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid() "
        "AND query NOT LIKE '%check_time IS NULL%'"
    ).fetchone()
    assert row is not None
    return int(row[0])


# Last: the services it stops stay down for the rest of the module.
def test_a_stopped_service_is_503_at_once_and_the_others_carry_on(
    system: System, new_customer: NewCustomer
) -> None:
    client = new_customer(2)
    customer = demo_customer(2)
    outages = client.send("GET", "/v1/outages")  # cached from here on
    client.send("GET", "/v1/feedback")
    balance = client.balance(customer)

    system.services["care"].stop()
    system.services["outage"].stop()

    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(EdgeApiError) as refused:
            client.send("GET", "/v1/feedback")
        elapsed = time.monotonic() - started
        assert (refused.value.status, refused.value.reason) == (503, "UPSTREAM_UNAVAILABLE")
        assert refused.value.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        assert elapsed < 1.0, f"a stopped service took {elapsed:.2f} s to refuse"

    # The outage list's entry has expired (and so has the edge's near copy of it): with
    # its service away it is served stale.
    store = system.secure.cache.reader.store  # type: ignore[union-attr]
    near = system.secure.cache.near
    store.clock = lambda: time.time() + EXPIRED
    near.clock = lambda: time.monotonic() + EXPIRED
    try:
        stale = client.send("GET", "/v1/outages")
    finally:
        store.clock, near.clock = time.time, time.monotonic
    assert stale.headers["x-cache"] == "STALE-IF-ERROR"
    assert stale.json == outages.json

    # Billing and account do not notice.
    assert client.balance(customer) == balance
    assert client.me()["name"]
