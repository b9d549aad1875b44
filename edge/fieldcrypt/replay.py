"""Replay detection for request envelopes: each envelope's `enc` is used once.

HPKE draws a fresh ephemeral key for every seal, so the encapsulated key `enc` is the
envelope's nonce. The guard remembers nonces for twice the timestamp window (an older
envelope is refused as stale anyway):

- in this process, in a bounded table, so a replay to the same edge is always caught;
- in Memcached with `add`, so a replay to another edge replica is caught too.

When Memcached cannot answer, the `fallback` decides: `"local"` (default) accepts on
the strength of the local table and logs it — a replay sent to a *different* replica
during the outage, inside the window, would then pass; `"reject"` refuses every sealed
request until the cache answers again (fails closed, at the cost of availability).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from cachetags import AsyncCachePool, CachePool, CacheUnavailable, keys, steps

__all__ = ["ReplayCheckUnavailable", "ReplayGuard"]

log = logging.getLogger(__name__)

Fallback = Literal["local", "reject"]


class ReplayCheckUnavailable(Exception):
    """Replays cannot be ruled out right now (fallback "reject" with Memcached down)."""


class ReplayGuard:
    def __init__(
        self,
        pool: CachePool | AsyncCachePool | None,
        *,
        window: float,
        fallback: Fallback = "local",
        capacity: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.ttl = 2 * window
        self.fallback = fallback
        self.capacity = capacity
        self.clock = clock
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, nonce: bytes) -> bool:
        """True when the nonce was not seen within the window (and records it);
        blocking, on a `CachePool`."""
        return steps.run(self.pool, self.first_use_steps(nonce))

    async def afirst_use(self, nonce: bytes) -> bool:
        """`first_use` on the edge's asynchronous pool."""
        return await steps.run_async(self.pool, self.first_use_steps(nonce))

    def first_use_steps(self, nonce: bytes) -> steps.Steps[bool]:
        digest = hashlib.sha256(nonce).digest()
        if not self._remember_locally(digest):
            return False
        if self.pool is None:
            return self._without_cache()
        try:
            return (yield from steps.add(keys.key("n", digest), b"1", math.ceil(self.ttl)))
        except CacheUnavailable:
            return self._without_cache()

    def _without_cache(self) -> bool:
        if self.fallback == "reject":
            raise ReplayCheckUnavailable("the replay cache cannot answer")
        log.warning("replay check without Memcached: this edge's own table only")
        return True

    def _remember_locally(self, digest: bytes) -> bool:
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > now and len(self._seen) < self.capacity:
                    break
                del self._seen[oldest]
            if digest in self._seen:
                return False
            self._seen[digest] = now + self.ttl
            return True
