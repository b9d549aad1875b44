"""A node that hangs and comes back, or restarts, never brings stale data back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from cachetags import (
    CachePool,
    EntryStore,
    ReadThrough,
    TagInvalidator,
    ValueCipher,
    entry_key,
    keys,
)
from tests.cache.conftest import FAST, kill
from tools import memcached


class Billing:
    """Stands for the database: a balance that changes, read through the cache."""

    def __init__(self) -> None:
        self.balance = 100

    async def read(self) -> bytes:
        return str(self.balance).encode()


def tag_on(pool: CachePool, address: str) -> str:
    for i in range(100):
        tag = f"customer/customers/31000000{i:02d}"
        if pool._ring.hasher.get_node(keys.key("t", tag)) == address:
            return tag
    raise AssertionError("no tag maps to the node")


async def read_balance(pool: CachePool, rt: ReadThrough, tag: str, billing: Billing) -> bytes:
    """What the edge's cache stage does for one balance read."""
    key = entry_key("/billing/GetBalance", tag.encode(), "customer:" + tag)
    return (await rt.load(key, billing.read, tags=[tag], ttl=60, seal=True)).payload


@pytest.mark.parametrize("outage", ["hang", "restart"])
def test_a_node_that_comes_back_does_not_serve_invalidated_data(
    start_memcached: Callable[..., memcached.MemcachedProcess], outage: str
) -> None:
    a, b = start_memcached(), start_memcached()
    billing = Billing()
    with CachePool([a.address, b.address], FAST) as pool:
        rt = ReadThrough(EntryStore(pool, ValueCipher.generate()))
        tag = tag_on(pool, a.address)

        async def scenario() -> None:
            assert await read_balance(pool, rt, tag, billing) == b"100"
            billing.balance = 50  # the database changes; node a is away during the bump
            if outage == "hang":
                a.pause()
            else:
                kill(a)
            try:
                assert await read_balance(pool, rt, tag, billing) == b"50"
                assert TagInvalidator(pool).bump([tag])
            finally:
                if outage == "hang":
                    a.resume()
                else:
                    start_memcached(port=a.port)
            deadline = time.monotonic() + 3
            while len(pool.live_servers()) < 2:
                assert await read_balance(pool, rt, tag, billing) == b"50"
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert await read_balance(pool, rt, tag, billing) == b"50"

        asyncio.run(scenario())
