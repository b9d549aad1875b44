"""The Memcached pool: plain operations, dead nodes out at once, flushed on return."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cachetags import CachePool, CacheUnavailable, PoolOptions, parse_servers
from tests.cache.conftest import FAST, kill
from tools import memcached


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_operations_round_trip_bytes(pool: CachePool) -> None:
    pool.set("k", b"\x00\xffvalue", 10, wait=True)
    assert pool.get("k") == b"\x00\xffvalue"
    assert pool.add("k", b"other", 10) is False
    assert pool.add("fresh", b"1", 10) is True
    assert pool.incr("fresh") == 2
    assert pool.incr("missing") is None
    assert pool.get_many(["k", "fresh", "absent"]) == {"k": b"\x00\xffvalue", "fresh": b"2"}
    pool.delete("k", wait=True)
    assert pool.get("k") is None


def test_keys_spread_over_every_node(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    a, b = start_memcached(), start_memcached()
    with CachePool([a.address, b.address], FAST) as p:
        p.set_many({f"key{i}": b"v" for i in range(50)}, 10)
        assert len(p.get_many(f"key{i}" for i in range(50))) == 50
    with CachePool([a.address], FAST) as only_a, CachePool([b.address], FAST) as only_b:
        on_a = only_a.get_many(f"key{i}" for i in range(50))
        on_b = only_b.get_many(f"key{i}" for i in range(50))
    assert on_a and on_b and len(on_a) + len(on_b) == 50


def test_keys_memcached_refuses_are_unavailable_without_a_node_marked_dead(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    a, b = start_memcached(), start_memcached()
    with CachePool([a.address, b.address], FAST) as p:
        for bad in ("a b", "k" * 251, "ключ"):
            with pytest.raises(CacheUnavailable):
                p.get_many(["fine", bad])
            with pytest.raises(CacheUnavailable):
                p.set_many({bad: b"v"}, 10)
        assert p.failures == 0
        assert sorted(p.live_servers()) == sorted([a.address, b.address])
        assert p.get_many([]) == {}
        p.set_many({}, 10)


def test_a_killed_node_fails_once_then_its_keys_move(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    a, b = start_memcached(), start_memcached()
    with CachePool([a.address, b.address], FAST) as p:
        keys = [f"key{i}" for i in range(20)]
        p.set_many(dict.fromkeys(keys, b"v"), 10)
        kill(a)
        with pytest.raises(CacheUnavailable):
            p.get_many(keys)
        assert p.live_servers() == [b.address]
        started = time.monotonic()
        found = p.get_many(keys)  # answered by b alone: its own keys, misses for a's
        assert time.monotonic() - started < 0.05
        assert 0 < len(found) < 20


def test_all_nodes_down_answers_unavailable_without_waiting(
    node: memcached.MemcachedProcess,
) -> None:
    with CachePool([node.address], FAST) as p:
        kill(node)
        with pytest.raises(CacheUnavailable):
            p.get("k")
        started = time.monotonic()
        for _ in range(100):
            with pytest.raises(CacheUnavailable):
                p.get("k")
            with pytest.raises(CacheUnavailable):
                p.get_many(["k", "j"])
            with pytest.raises(CacheUnavailable):
                p.set_many({"k": b"v"}, 10)
        assert time.monotonic() - started < 0.05
        assert p.get_many([]) == {}  # nothing asked, nothing to be unavailable for


def test_a_hung_node_costs_one_timeout_then_is_dead(node: memcached.MemcachedProcess) -> None:
    with CachePool([node.address], FAST) as p:
        p.set("k", b"v", 10, wait=True)
        node.pause()
        try:
            started = time.monotonic()
            with pytest.raises(CacheUnavailable):
                p.get("k")
            first = time.monotonic() - started
            started = time.monotonic()
            for _ in range(20):
                with pytest.raises(CacheUnavailable):
                    p.get("k")
            rest = time.monotonic() - started
        finally:
            node.resume()
    assert first < FAST.timeout + 0.05
    assert rest < 0.02


def test_a_failed_node_closes_its_idle_connections_not_one_in_use(
    node: memcached.MemcachedProcess,
) -> None:
    with CachePool([node.address], FAST) as p:
        p.set("k", b"v", 10, wait=True)
        pooled = next(iter(p._ring.clients.values()))
        in_use = pooled.client_pool.get()  # as another thread's call holds it
        assert p.get("k") == b"v"  # a second connection, idle once the call is done
        (idle,) = pooled.client_pool.free
        assert in_use.sock is not None and idle.sock is not None
        p._ring.node_failed(pooled.server, ConnectionResetError("reset"))
        assert p.live_servers() == []
        assert idle.sock is None
        # Still open: a number closed under a thread's recv would go to the next socket.
        assert in_use.sock is not None and in_use.sock.fileno() >= 0
        pooled.client_pool.release(in_use)  # the call ends
        wait_until(lambda: p.live_servers() == [node.address])
        assert p.get("k") is None  # flushed on return, over a new pool
        assert next(iter(p._ring.clients.values())) is not pooled
        assert in_use.sock is None  # given back, then closed at the revival


def test_a_node_that_comes_back_is_flushed_before_it_takes_keys_again(
    node: memcached.MemcachedProcess,
) -> None:
    with CachePool([node.address], FAST) as p:
        p.set("old", b"written before the outage", 60, wait=True)
        node.pause()
        with pytest.raises(CacheUnavailable):
            p.get("old")
        node.resume()
        wait_until(lambda: p.live_servers() == [node.address])
        assert p.get("old") is None


def test_a_restarted_node_rejoins_on_the_same_port(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    first = start_memcached()
    with CachePool([first.address], FAST) as p:
        p.set("k", b"v", 10, wait=True)
        kill(first)
        with pytest.raises(CacheUnavailable):
            p.get("k")
        start_memcached(port=first.port)
        wait_until(lambda: bool(p.live_servers()))
        p.set("k", b"again", 10, wait=True)
        assert p.get("k") == b"again"


def test_timeouts_above_100_ms_are_refused() -> None:
    with pytest.raises(ValueError):
        PoolOptions(timeout=0.5)
    with pytest.raises(ValueError):
        PoolOptions(connect_timeout=1)


def test_servers_are_parsed_from_settings_strings() -> None:
    assert parse_servers(["10.0.0.1:11211", " [::1]:11212"]) == [
        ("10.0.0.1", 11211),
        ("::1", 11212),
    ]
    with pytest.raises(ValueError):
        parse_servers(["nohost"])
