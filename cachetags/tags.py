"""Tag generations: the invalidation half of every cache key.

Each tag (`customer/customers/3100000001`, `tariffs`) has a current generation in
Memcached, a random token. A cached entry is valid only under the generations of its
tags as they were read *before* the upstream call (cachetags.entries), so:

- bumping a tag (a new random token) makes every entry under it unusable at once;
- a write that commits while a read is in flight cannot be hidden: the read is stored
  under the old generation, which the bump (made after the commit) replaced;
- a generation that vanished (eviction, node restart) comes back as a new random
  token, never as an old value, so entries stored under old generations stay unusable.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cachetags import keys, steps
from cachetags.pool import CachePool, CacheUnavailable
from cachetags.steps import Steps

if TYPE_CHECKING:
    from cachetags.aio import AsyncCachePool

__all__ = ["TagGenerations", "new_token"]

# How long a generation is kept without a bump. Losing one is always safe (entries
# under it become unreachable), so this only trades memory for hit ratio.
GENERATION_TTL = 24 * 3600


def new_token() -> bytes:
    """A fresh generation: 96 random bits, never equal to an earlier one in practice."""
    return base64.urlsafe_b64encode(os.urandom(12))


class TagGenerations:
    """Reads and bumps tag generations in a pool (either transport)."""

    def __init__(self, pool: CachePool | AsyncCachePool, *, ttl: int = GENERATION_TTL) -> None:
        self.pool = pool
        self.ttl = ttl

    def current(self, tags: Sequence[str]) -> dict[str, bytes]:
        """The current generation of each tag, creating missing ones.

        One get_many for the usual case; raises CacheUnavailable when the cache cannot
        say, and the caller must then neither read nor write cached entries.
        """
        return steps.run(self.pool, self.current_steps(tags))

    def resolve(self, names: dict[str, str], found: dict[str, bytes]) -> dict[str, bytes]:
        """Generations of the tags in `names` (tag → key) from values already read,
        creating the missing ones."""
        return steps.run(self.pool, self.resolve_steps(names, found))

    def bump(self, tags: Iterable[str]) -> None:
        """Give each tag a new generation; raises CacheUnavailable if any was not stored."""
        steps.run(self.pool, self.bump_steps(tags))

    async def abump(self, tags: Iterable[str]) -> None:
        """`bump` on the asynchronous pool."""
        await steps.run_async(self.pool, self.bump_steps(tags))

    # -- the semantics, for either transport ----------------------------------------
    def current_steps(self, tags: Sequence[str]) -> Steps[dict[str, bytes]]:
        names = keys.many("t", tags)
        found = yield from steps.get_many(names.values())
        return (yield from self.resolve_steps(names, found))

    def resolve_steps(
        self, names: dict[str, str], found: dict[str, bytes]
    ) -> Steps[dict[str, bytes]]:
        out: dict[str, bytes] = {}
        for tag, key in names.items():
            value = found.get(key)
            if value is None:
                value = yield from self._create(key)
            out[tag] = value
        return out

    def bump_steps(self, tags: Iterable[str]) -> Steps[None]:
        names = keys.many("t", tags)
        if names:
            yield from steps.set_many({key: new_token() for key in names.values()}, self.ttl)

    def _create(self, key: str) -> Steps[bytes]:
        token = new_token()
        if (yield from steps.add(key, token, self.ttl)):
            return token
        # Someone created it between our get and add: theirs wins.
        value = yield from steps.get(key)
        if value is None:
            raise CacheUnavailable("tag generation vanished while being created")
        return value
