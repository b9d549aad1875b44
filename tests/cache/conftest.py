"""Fixtures for the cache tests: real Memcached processes and pools over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cachetags import CachePool, PoolOptions
from tools import memcached

# Short dead-node period so revival is observable in a test; timeouts as in production.
FAST = PoolOptions(connect_timeout=0.05, timeout=0.1, dead_timeout=0.3)


def kill(node: memcached.MemcachedProcess) -> None:
    """Kill a node the hard way (SIGKILL), as a crash would."""
    node.process.kill()
    node.process.wait()


@pytest.fixture
def start_memcached() -> Iterator[Callable[..., memcached.MemcachedProcess]]:
    """Start Memcached processes (stopped at the end of the test)."""
    started: list[memcached.MemcachedProcess] = []

    def start(port: int | None = None) -> memcached.MemcachedProcess:
        node = memcached.start(port=port, memory_mb=16)
        started.append(node)
        return node

    yield start
    for node in started:
        kill(node)


@pytest.fixture
def node(start_memcached: Callable[..., memcached.MemcachedProcess]) -> memcached.MemcachedProcess:
    return start_memcached()


@pytest.fixture
def pool(node: memcached.MemcachedProcess) -> Iterator[CachePool]:
    with CachePool([node.address], FAST) as p:
        yield p
