"""Each Memcached node's state, for health endpoints.

Every configured node is asked `version` over a connection of its own (so the check is
the same whichever pool the process uses, and never takes a pooled connection):

- `UP`: it answers and the pool sends it keys;
- `OUT_OF_RING`: it answers, but the pool took it out after a failure; the pool's
  background probe flushes it and brings it back;
- `DOWN`: it does not answer within the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

__all__ = ["NodePool", "node_states"]


class NodePool(Protocol):
    """What the check reads of a pool (`CachePool` and its asynchronous twin alike)."""

    @property
    def servers(self) -> Sequence[tuple[str, int]]: ...

    def live_servers(self) -> list[str]: ...


async def _answers(host: str, port: int, timeout: float) -> bool:
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"version\r\n")
            await writer.drain()
            return (await reader.readline()).startswith(b"VERSION ")
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def node_states(pool: NodePool, timeout: float = 0.5) -> dict[str, str]:
    """`host:port` → `UP`, `OUT_OF_RING` or `DOWN` for every configured node, asked at
    once (at most `timeout` seconds in all)."""
    names = [f"{host}:{port}" for host, port in pool.servers]
    answers = await asyncio.gather(*(_answers(h, p, timeout) for h, p in pool.servers))
    live = set(pool.live_servers())
    return {
        name: ("UP" if name in live else "OUT_OF_RING") if answered else "DOWN"
        for name, answered in zip(names, answers, strict=True)
    }
