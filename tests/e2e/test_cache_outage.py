"""Memcached failures seen from the phone: reads keep working when it is killed or hung,
and a node that comes back (restarted, or resumed with its old contents) brings back
neither a revoked session nor invalidated data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from clients.edge_client import EdgeClient
from clients.edge_errors import Unauthenticated
from tests.e2e.conftest import demo_customer, paid_in
from tests.e2e.system import System, start_system
from tools import memcached

NewCustomer = Callable[..., EdgeClient]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(tmp_path_factory.mktemp("outage"))
    yield running
    running.stop()


@pytest.fixture
def memcached_node(system: System) -> Iterator[memcached.MemcachedProcess]:
    """The system's Memcached, running again (and back in the edge's ring) after the test."""
    yield system.memcached
    node = system.memcached
    if node.process.poll() is not None:
        system.memcached = memcached.start(port=node.port, memory_mb=32)
    else:
        node.resume()
    wait_for_ring(system)


def wait_for_ring(system: System) -> None:
    pool = system.secure.pool
    assert pool is not None
    deadline = time.monotonic() + 5
    while not pool.live_servers():
        assert time.monotonic() < deadline, "Memcached did not rejoin"
        time.sleep(0.05)


def kill(node: memcached.MemcachedProcess) -> None:
    node.process.kill()
    node.process.wait()


def test_reads_succeed_with_memcached_killed_mid_test(
    system: System, new_customer: NewCustomer, memcached_node: memcached.MemcachedProcess
) -> None:
    client = new_customer(1)
    customer = demo_customer(1)
    client.balance(customer)
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    kill(memcached_node)
    started = time.monotonic()
    for _ in range(5):
        reply = client.balance_reply(customer)
        assert reply.headers["x-cache"] == "BYPASS"
        assert reply.json["name"] == f"customers/{customer}/balance"
    assert client.me()["username"]  # sessions fall back to the account service
    assert time.monotonic() - started < 2


def timed_balance(client: EdgeClient, customer: str) -> float:
    started = time.monotonic()
    assert client.balance(customer)["name"].endswith("/balance")
    return time.monotonic() - started


def test_a_hung_memcached_costs_at_most_one_timeout(
    system: System, new_customer: NewCustomer, memcached_node: memcached.MemcachedProcess
) -> None:
    client = new_customer(2)
    customer = demo_customer(2)
    client.balance(customer)
    pool = system.secure.pool
    assert pool is not None
    failures = pool.failures
    memcached_node.pause()
    first = timed_balance(client, customer)
    later = [timed_balance(client, customer) for _ in range(9)]
    # The first read waits for one Memcached timeout (100 ms), and the node is marked
    # dead: the pool saw that one failure and no other.
    assert first >= 0.1
    assert pool.failures == failures + 1
    assert pool.live_servers() == []
    # The others do not wait at all: they cost what the same reads cost with the node
    # killed (refused at once, nothing to wait for). Their fastest, since a loaded
    # machine only ever adds time: had each waited, its fastest would be a timeout
    # (100 ms) slower.
    kill(memcached_node)
    killed = [timed_balance(client, customer) for _ in range(9)]
    assert min(later) < min(killed) + 0.05, (first, later, killed)


def test_the_edge_keeps_serving_while_a_request_waits_on_a_hung_memcached(
    system: System, new_customer: NewCustomer, memcached_node: memcached.MemcachedProcess
) -> None:
    client = new_customer(5)
    customer = demo_customer(5)
    client.balance(customer)
    probe = EdgeClient(system.url, ca_file=system.ca_file)
    probe.keys()  # a warm connection: what is timed below is the edge, not a handshake
    memcached_node.pause()
    waiting: list[float] = []

    def read_through_hung_cache() -> None:
        started = time.monotonic()
        client.balance(customer)  # its session check waits one Memcached timeout
        waiting.append(time.monotonic() - started)

    reader = threading.Thread(target=read_through_hung_cache)
    reader.start()
    latencies = []
    try:
        while reader.is_alive():  # back to back, so one probe overlaps any stall of the loop
            started = time.monotonic()
            assert probe.keys()["keys"]
            latencies.append(time.monotonic() - started)
    finally:
        reader.join()  # before its client can be closed (tests/e2e/test_outages.py)
        probe.close()
    assert waiting[0] >= 0.1, "the read did not wait on the hung node"
    # A blocked event loop would hold some probe for the whole Memcached timeout (100 ms).
    assert len(latencies) >= 2 and max(latencies) < 0.06, latencies


def test_a_restarted_node_does_not_bring_back_a_revoked_session_or_stale_data(
    system: System, new_customer: NewCustomer, memcached_node: memcached.MemcachedProcess
) -> None:
    client = new_customer(3)
    customer = demo_customer(3)
    time.sleep(1.1)
    client.me()
    token = client.token
    before = client.balance(customer)
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    kill(memcached_node)
    client.pay(customer, 700, "PAYMENT_CHANNEL_WECHAT_PAY")  # invalidation lost with the node
    client.logout()  # revocation mark lost with the node
    system.memcached = memcached.start(port=memcached_node.port, memory_mb=32)
    wait_for_ring(system)
    stale = EdgeClient(system.url, ca_file=system.ca_file)
    stale.token = token
    with pytest.raises(Unauthenticated):
        stale.me()
    stale.close()
    reader = new_customer(3)
    assert paid_in(reader.balance(customer)) == paid_in(before) + 700


def test_a_node_resumed_with_old_contents_does_not_serve_them(
    system: System, new_customer: NewCustomer, memcached_node: memcached.MemcachedProcess
) -> None:
    client = new_customer(4)
    customer = demo_customer(4)
    before = client.balance(customer)
    assert client.balance_reply(customer).headers["x-cache"] == "HIT"
    memcached_node.pause()
    try:
        client.balance(customer)  # the edge notices the node is gone
        client.pay(customer, 900, "PAYMENT_CHANNEL_WECHAT_PAY")
    finally:
        memcached_node.resume()
    # The node answers again with the old generation and the old entry; neither is used,
    # before or after it rejoins the ring.
    deadline = time.monotonic() + 5
    while True:
        reply = client.balance_reply(customer)
        assert paid_in(reply.json) == paid_in(before) + 900
        pool = system.secure.pool
        assert pool is not None
        if pool.live_servers():
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert paid_in(client.balance(customer)) == paid_in(before) + 900
