"""The near cache: a small in-process copy of global entries in front of Memcached.

Global entries are public data everyone shares (tariffs, outlets, articles, outages):
a few hot keys asked for thousands of times a second. A copy of such an entry's body
kept in the edge's memory for a fraction of a second answers them without a Memcached
round trip, which on a busy edge costs about half of a public hit (docs/caching.md,
"The near cache").

Rules, so that it never serves what Memcached would not:
- only bodies Memcached answered as current (a hit, or an answer just stored) are
  copied, with the tags they hang on; stale and stale-if-error answers never are;
- a copy lives at most `ttl` seconds from when it was read from Memcached. A tag
  bumped elsewhere (a service, the CLI, another edge) reaches this edge within `ttl`;
  a write through this edge drops the copies of its tags at once (`drop_tags`), and
  a read that started before that drop is not copied afterwards (it may have seen
  the data from before the write);
- at most `max_bytes` of bodies are kept; the oldest copies go first, and a body
  larger than a sixteenth of it is not copied.

Only the edge keeps one: its event loop serves every connection, so a round trip
saved is time given back to every request on it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["NearCache", "NearCacheOptions"]

_DROPS_KEPT = 1024
_LONGEST_READ = 600.0  # seconds: twice the longest deadline the edge gives a call


@dataclass(frozen=True, slots=True)
class NearCacheOptions:
    """How long a copy lives (seconds; 0 turns the near cache off) and how many bytes
    of bodies are kept."""

    ttl: float = 0.5
    max_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.ttl <= 5:
            raise ValueError("the near cache's TTL must be within [0, 5] seconds")
        if self.max_bytes < 0:
            raise ValueError("the near cache's size must not be negative")


@dataclass(frozen=True, slots=True)
class _Copy:
    body: bytes
    tags: tuple[str, ...]
    until: float


class NearCache:
    def __init__(
        self, options: NearCacheOptions, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.options = options
        self.clock = clock
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self._bytes = 0
        self._dropped: dict[str, float] = {}  # tag → when a write here last dropped it

    @property
    def enabled(self) -> bool:
        return self.options.ttl > 0 and self.options.max_bytes > 0

    def get(self, key: str) -> bytes | None:
        """The body copied under `key`, while it is younger than the TTL."""
        copy = self._copies.get(key)
        if copy is None:
            return None
        if copy.until <= self.clock():
            self._remove(key)
            return None
        return copy.body

    def put(self, key: str, body: bytes, tags: Iterable[str], *, read_at: float) -> None:
        """Copy a body Memcached answered as current (or that was just stored) to a read
        that started at `read_at` (this cache's clock)."""
        tags = tuple(tags)
        if not self.enabled or len(body) * 16 > self.options.max_bytes:
            return
        if any(self._dropped.get(tag, -1.0) >= read_at for tag in tags):
            return
        now = self.clock()
        self._remove(key)
        # Every copy lives the same TTL, so the oldest are the first to expire.
        while self._copies and next(iter(self._copies.values())).until <= now:
            self._remove(next(iter(self._copies)))
        self._copies[key] = _Copy(body, tags, now + self.options.ttl)
        self._bytes += len(body)
        while self._bytes > self.options.max_bytes:
            self._remove(next(iter(self._copies)))

    def drop_tags(self, tags: Iterable[str]) -> None:
        """Forget every copy hanging on one of `tags` (a write through this edge)."""
        bumped = set(tags)
        now = self.clock()
        if len(self._dropped) > _DROPS_KEPT:
            # No read lives longer than its deadline: older drops cannot matter.
            horizon = now - _LONGEST_READ
            self._dropped = {t: at for t, at in self._dropped.items() if at > horizon}
        self._dropped.update(dict.fromkeys(bumped, now))
        for key in [k for k, c in self._copies.items() if bumped.intersection(c.tags)]:
            self._remove(key)

    def __len__(self) -> int:
        return len(self._copies)

    def _remove(self, key: str) -> None:
        copy = self._copies.pop(key, None)
        if copy is not None:
            self._bytes -= len(copy.body)
