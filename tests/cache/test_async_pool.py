"""The edge's asyncio pool: the same operations, placement and failure rules as
`CachePool`, and the same semantics over it (entries written on one transport are read,
and invalidated, on the other)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import pytest

from cachetags import (
    AsyncCachePool,
    CachePool,
    CacheUnavailable,
    EntryStore,
    ReadThrough,
    TagInvalidator,
    ValueCipher,
)
from cachetags.flight import Source
from tests.cache.conftest import FAST, kill
from tests.tcp_relay import TcpRelay
from tools import memcached

Start = Callable[..., memcached.MemcachedProcess]


def test_operations_round_trip_bytes(node: memcached.MemcachedProcess) -> None:
    async def run() -> None:
        pool = AsyncCachePool([node.address], FAST)
        await pool.set("k", b"\x00\xff value\r\nEND\r\n", 10, wait=True)
        assert await pool.get("k") == b"\x00\xff value\r\nEND\r\n"
        assert await pool.add("k", b"other", 10) is False
        assert await pool.add("fresh", b"1", 10) is True
        assert await pool.incr("fresh") == 2
        assert await pool.incr("missing") is None
        found = await pool.get_many(["k", "fresh", "absent"])
        assert found == {"k": b"\x00\xff value\r\nEND\r\n", "fresh": b"2"}
        await pool.delete("k", wait=True)
        assert await pool.get("k") is None
        await pool.set("quiet", b"v", 10)  # no reply awaited; the next read sees it
        assert await pool.get("quiet") == b"v"
        pool.close()

    asyncio.run(run())


def test_both_pools_place_every_key_on_the_same_node(start_memcached: Start) -> None:
    a, b = start_memcached(), start_memcached()
    keys = [f"key{i}" for i in range(50)]
    with CachePool([a.address, b.address], FAST) as blocking:
        blocking.set_many({k: k.encode() for k in keys}, 10)

    async def run() -> dict[str, bytes]:
        pool = AsyncCachePool([a.address, b.address], FAST)
        try:
            return await pool.get_many(keys)
        finally:
            pool.close()

    assert asyncio.run(run()) == {k: k.encode() for k in keys}


def test_a_killed_node_fails_once_then_its_keys_move(start_memcached: Start) -> None:
    a, b = start_memcached(), start_memcached()

    async def run() -> None:
        pool = AsyncCachePool([a.address, b.address], FAST)
        keys = [f"key{i}" for i in range(20)]
        await pool.set_many(dict.fromkeys(keys, b"v"), 10)
        kill(a)
        with pytest.raises(CacheUnavailable):
            await pool.get_many(keys)
        assert pool.live_servers() == [b.address]
        started = time.monotonic()
        found = await pool.get_many(keys)  # b alone: its own keys, misses for a's
        assert time.monotonic() - started < 0.05
        assert 0 < len(found) < 20
        pool.close()

    asyncio.run(run())


def test_a_hung_node_costs_its_waiting_callers_one_timeout_and_returns_flushed(
    start_memcached: Start,
) -> None:
    a, b = start_memcached(), start_memcached()

    async def run() -> None:
        pool = AsyncCachePool([a.address, b.address], FAST)
        on_a = next(f"k{i}" for i in range(100) if pool.node_for(f"k{i}") == a.address)
        await pool.set(on_a, b"old", 60, wait=True)
        a.pause()
        started = time.monotonic()
        # Ten callers at once wait together, each at most one timeout, not one after another.
        results = await asyncio.gather(*(pool.get(on_a) for _ in range(10)), return_exceptions=True)
        assert all(isinstance(r, CacheUnavailable) for r in results)
        assert time.monotonic() - started < 2 * FAST.timeout + 0.1
        assert pool.live_servers() == [b.address]
        a.resume()
        deadline = time.monotonic() + 5
        while len(pool.live_servers()) < 2:
            assert time.monotonic() < deadline, "the node did not rejoin"
            await asyncio.sleep(0.05)
        assert await pool.get(on_a) is None  # flushed before it took keys back
        pool.close()

    asyncio.run(run())


def test_entries_read_on_one_transport_are_invalidated_from_the_other(
    node: memcached.MemcachedProcess,
) -> None:
    cipher = ValueCipher.generate()
    calls: list[int] = []

    async def upstream() -> bytes:
        calls.append(1)
        return f"answer {len(calls)}".encode()

    async def read(rt: ReadThrough) -> tuple[bytes, Source]:
        outcome = await rt.load("pg1:e:k", upstream, tags=["tariffs"], ttl=60, seal=True)
        return outcome.payload, outcome.source

    async def run() -> list[tuple[bytes, Source]]:
        pool = AsyncCachePool([node.address], FAST)
        rt = ReadThrough(EntryStore(pool, cipher))
        seen = [await read(rt), await read(rt)]
        assert TagInvalidator.from_servers([node.address], FAST).bump(["tariffs"])
        seen.append(await read(rt))
        pool.close()
        return seen

    assert asyncio.run(run()) == [
        (b"answer 1", Source.MISS),
        (b"answer 1", Source.HIT),
        (b"answer 2", Source.MISS),
    ]
    with CachePool([node.address], FAST) as blocking:
        entry, _ = EntryStore(blocking, cipher).lookup("pg1:e:k", ["tariffs"], sealed=True)
    assert entry is not None and entry.payload == b"answer 2"


def test_concurrent_misses_make_one_upstream_call_though_lookups_wait(
    node: memcached.MemcachedProcess,
) -> None:
    calls: list[int] = []

    async def upstream() -> bytes:
        calls.append(1)  # answers at once: a flight may land while others still look up
        return b"answer"

    async def run() -> list[Source]:
        pool = AsyncCachePool([node.address], FAST)
        rt = ReadThrough(EntryStore(pool, ValueCipher.generate()))
        outcomes = await asyncio.gather(
            *(rt.load("pg1:e:k", upstream, tags=["t"], ttl=60) for _ in range(20))
        )
        pool.close()
        return [o.source for o in outcomes]

    sources = asyncio.run(run())
    assert len(calls) == 1
    assert sources.count(Source.MISS) == 1 and set(sources) <= {Source.MISS, Source.COALESCED}


def test_pipelined_callers_each_get_their_own_reply(node: memcached.MemcachedProcess) -> None:
    values = {f"key{i}": f"value {i} ".encode() * (1 + i % 50) for i in range(200)}

    async def run() -> list[dict[str, bytes]]:
        pool = AsyncCachePool([node.address], FAST)
        await pool.set_many(values, 10)
        # Two hundred reads at once on the node's one connection, some of two keys.
        reads = [pool.get_many([k, f"key{(i + 1) % 200}"]) for i, k in enumerate(values)]
        found = await asyncio.gather(*reads)
        pool.close()
        return found

    for i, found in enumerate(asyncio.run(run())):
        assert found == {
            f"key{i}": values[f"key{i}"],
            f"key{(i + 1) % 200}": values[f"key{(i + 1) % 200}"],
        }


@pytest.mark.parametrize("piece", [3, 700])
def test_replies_that_arrive_in_pieces_are_read_whole(
    node: memcached.MemcachedProcess, piece: int
) -> None:
    # Pieces end inside a value's header line, inside its data and between replies (at
    # three bytes a millisecond, only the small values, or the test would take long).
    sizes = [20, 920] if piece < 100 else [20, 920, 1820, 2720, 3620]
    values = {f"key{i}": bytes([65 + i]) * size for i, size in enumerate(sizes)}
    relay = TcpRelay(node.address, piece=piece)

    async def run() -> tuple[dict[str, bytes], list[bytes | None]]:
        pool = AsyncCachePool([relay.address], FAST)
        try:
            await pool.set_many(values, 10)
            together = await pool.get_many([*values, "absent"])
            pipelined = await asyncio.gather(*(pool.get(k) for k in [*values, "absent"]))
            return together, pipelined
        finally:
            pool.close()

    try:
        together, pipelined = asyncio.run(run())
    finally:
        relay.close()
    assert together == values
    assert pipelined == [*values.values(), None]


def test_a_read_leaves_nothing_for_the_garbage_collector(node: memcached.MemcachedProcess) -> None:
    # A read's reply (an entry of kilobytes on the edge's hit path) is freed when its
    # caller is done with it, not at the collector's next pass over the heap: no future
    # of a read, and nothing of this client, is among what the collector finds.
    async def run() -> list[object]:
        pool = AsyncCachePool([node.address], FAST)
        await pool.set_many({"entry": b"x" * 4096, "generation": b"1"}, 10)
        await pool.get_many(["entry", "generation"])  # the connection is opened
        gc.collect()
        gc.disable()
        try:
            for _ in range(100):
                assert len(await pool.get_many(["entry", "generation", "absent"])) == 2
            gc.set_debug(gc.DEBUG_SAVEALL)  # what is found is kept in gc.garbage
            gc.collect()
            found = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
            pool.close()
        # Other threads of the test process (servers of earlier modules, their loops)
        # may leave garbage of their own meanwhile: only this loop's futures count.
        loop = asyncio.get_running_loop()
        return [
            o
            for o in found
            if (isinstance(o, asyncio.Future) and o.get_loop() is loop)
            or getattr(o, "__module__", "") == "cachetags.aio"
        ]

    assert asyncio.run(run()) == []


def test_a_cancelled_read_does_not_hand_its_reply_to_the_next_caller(
    node: memcached.MemcachedProcess,
) -> None:
    async def run() -> tuple[bytes | None, bytes | None]:
        pool = AsyncCachePool([node.address], FAST)
        await pool.set("first", b"the first key's value", 10, wait=True)
        await pool.set("second", b"the second key's value", 10, wait=True)
        abandoned = asyncio.ensure_future(pool.get("first"))
        await asyncio.sleep(0)  # its command is written; its reply is on the way
        abandoned.cancel()
        second = await pool.get("second")
        first = await pool.get("first")
        pool.close()
        return second, first

    assert asyncio.run(run()) == (b"the second key's value", b"the first key's value")


def test_an_error_answering_one_command_fails_only_that_command(
    node: memcached.MemcachedProcess,
) -> None:
    async def run() -> list[object]:
        pool = AsyncCachePool([node.address], FAST)
        await pool.set("word", b"not a number", 10, wait=True)
        await pool.set("other", b"fine", 10, wait=True)
        # Pipelined on one connection: Memcached refuses the incr with CLIENT_ERROR.
        results = await asyncio.gather(
            pool.get("other"), pool.incr("word"), pool.get("other"), return_exceptions=True
        )
        assert pool.live_servers() == [node.address]  # an answer, not a failed node
        results.append(await pool.get("other"))
        pool.close()
        return results

    first, refused, second, after = asyncio.run(run())
    assert isinstance(refused, CacheUnavailable) and "non-numeric" in str(refused)
    assert first == second == after == b"fine"
