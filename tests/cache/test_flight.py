"""Read-through: hit after miss, single flight, stale while refreshing, stale-if-error,
and reads that succeed with the cache down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cachetags import (
    CachePool,
    EntryStore,
    FlightOptions,
    ReadThrough,
    Source,
    ValueCipher,
)
from tests.cache.conftest import FAST, kill
from tools import memcached


class Upstream:
    """Counts calls; answers after a delay, or fails when told to."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.failing = False

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failing:
            raise ConnectionError("upstream down")
        return f"answer {self.calls}".encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reader(pool: CachePool, clock: Callable[[], float] | None = None) -> ReadThrough:
    store = EntryStore(pool, ValueCipher.generate(), **({"clock": clock} if clock else {}))
    return ReadThrough(store, FlightOptions(wait_seconds=1.0))


def test_second_read_is_a_hit(pool: CachePool) -> None:
    rt, upstream = reader(pool), Upstream()

    async def run() -> list[Source]:
        first = await rt.load("pg1:e:k", upstream, ttl=10, seal=True)
        second = await rt.load("pg1:e:k", upstream, ttl=10, seal=True)
        assert first.payload == second.payload == b"answer 1"
        return [first.source, second.source]

    assert asyncio.run(run()) == [Source.MISS, Source.HIT]
    assert upstream.calls == 1


def test_concurrent_misses_in_one_process_make_one_upstream_call(pool: CachePool) -> None:
    rt, upstream = reader(pool), Upstream(delay=0.05)

    async def run() -> list[bytes]:
        outcomes = await asyncio.gather(*(rt.load("pg1:e:k", upstream, ttl=10) for _ in range(20)))
        return [o.payload for o in outcomes]

    assert asyncio.run(run()) == [b"answer 1"] * 20
    assert upstream.calls == 1


def test_concurrent_misses_across_processes_make_one_upstream_call(
    node: memcached.MemcachedProcess,
) -> None:
    # Separate pools and readers stand for separate edge processes sharing Memcached.
    pools = [CachePool([node.address], FAST) for _ in range(4)]
    readers = [reader(p) for p in pools]
    upstream = Upstream(delay=0.1)

    async def run() -> list[Source]:
        outcomes = await asyncio.gather(
            *(r.load("pg1:e:k", upstream, ttl=10) for r in readers for _ in range(5))
        )
        assert {o.payload for o in outcomes} == {b"answer 1"}
        return [o.source for o in outcomes]

    try:
        sources = asyncio.run(run())
    finally:
        for p in pools:
            p.close()
    assert upstream.calls == 1
    assert sources.count(Source.MISS) == 1


def test_an_expired_entry_is_served_while_another_caller_refreshes(pool: CachePool) -> None:
    clock = Clock()
    rt, upstream = reader(pool, clock), Upstream(delay=0.1)

    async def run() -> list[tuple[bytes, Source]]:
        await rt.load("pg1:e:k", upstream, ttl=10, stale_for=60)
        clock.now += 11
        outcomes = await asyncio.gather(
            *(rt.load("pg1:e:k", upstream, ttl=10, stale_for=60) for _ in range(3))
        )
        return [(o.payload, o.source) for o in outcomes]

    results = asyncio.run(run())
    assert results[0] == (b"answer 2", Source.MISS)
    assert results[1:] == [(b"answer 1", Source.STALE)] * 2
    assert upstream.calls == 2


def test_a_failing_upstream_gets_the_stale_entry_inside_its_window(pool: CachePool) -> None:
    clock = Clock()
    rt, upstream = reader(pool, clock), Upstream()

    async def run() -> None:
        await rt.load("pg1:e:k", upstream, ttl=10, stale_for=60)
        upstream.failing = True
        clock.now += 30
        served = await rt.load("pg1:e:k", upstream, ttl=10, stale_for=60)
        assert (served.payload, served.source) == (b"answer 1", Source.STALE_IF_ERROR)
        clock.now += 60
        with pytest.raises(ConnectionError):
            await rt.load("pg1:e:k", upstream, ttl=10, stale_for=60)

    asyncio.run(run())


def test_refusals_are_not_hidden_by_stale_entries(pool: CachePool) -> None:
    clock = Clock()
    rt = reader(pool, clock)

    async def refuse() -> bytes:
        raise PermissionError("not yours")

    async def run() -> None:
        await rt.load("pg1:e:k", Upstream(), ttl=10, stale_for=60)
        clock.now += 30
        with pytest.raises(PermissionError):
            await rt.load(
                "pg1:e:k",
                refuse,
                ttl=10,
                stale_for=60,
                is_failure=lambda exc: isinstance(exc, ConnectionError),
            )

    asyncio.run(run())


def test_reads_succeed_from_the_upstream_with_memcached_killed(
    node: memcached.MemcachedProcess,
) -> None:
    with CachePool([node.address], FAST) as p:
        rt, upstream = reader(p), Upstream()

        async def run() -> list[Source]:
            sources = [(await rt.load("pg1:e:k", upstream, ttl=10)).source]
            kill(node)
            for _ in range(3):
                sources.append((await rt.load("pg1:e:k", upstream, ttl=10)).source)
            return sources

        assert asyncio.run(run()) == [Source.MISS, Source.BYPASS, Source.BYPASS, Source.BYPASS]
        assert upstream.calls == 4
