"""The state of each Memcached node as a health endpoint reports it: UP, OUT_OF_RING
(answers, but the pool took it out after a failure) or DOWN (no answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cachetags import CachePool, PoolOptions
from cachetags.health import node_states
from tools import memcached
from tools.ports import free_port


def test_each_node_is_up_out_of_the_ring_or_down(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    first, second = start_memcached(), start_memcached()
    silent = f"127.0.0.1:{free_port()}"
    # A long dead time: the pool's probe must not bring the node back during the test.
    options = PoolOptions(dead_timeout=60)
    with CachePool([first.address, second.address, silent], options) as pool:
        pool._ring.node_failed(("127.0.0.1", second.port), ConnectionResetError("test"))
        states = asyncio.run(node_states(pool, timeout=0.5))
    assert states == {first.address: "UP", second.address: "OUT_OF_RING", silent: "DOWN"}
