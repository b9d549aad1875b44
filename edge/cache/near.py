"""The near cache: a small in-process copy of global entries in front of Memcached.

Global entries are public data everyone shares (tariffs, outlets, articles, outages):
a few hot keys asked for thousands of times a second. A copy of such an entry's body
kept in the edge's memory for a fraction of a second answers them without a Memcached
round trip, which on a busy edge costs about half of a public hit (docs/caching.md,
"The near cache").

Rules, so that it never serves what Memcached would not:
- only bodies Memcached answered as current (a hit, or an answer just stored) are
  copied, with the tags they hang on; stale and stale-if-error answers never are;
- a copy lives at most `ttl` seconds from when it was copied, right after the read
  that found it. A tag bumped elsewhere (a service, the CLI, another edge) reaches
  this edge within `ttl`; a write through this edge drops the copies of its tags at
  once (`drop_tags`, before and after its bump), and a read that started before that
  drop is not copied afterwards (it may have seen the data from before the write);
  nor is a read that took longer than `RECENT` seconds;
- at most `max_bytes` of bodies are kept; the oldest copies go first, and a body
  larger than a sixteenth of it is not copied.

Only the edge keeps one: its event loop serves every connection, so a round trip
saved is time given back to every request on it.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["NearCache", "NearCacheOptions"]

# Seconds a read may take and still be copied: the drops of writes that old need not
# be remembered.
RECENT = 5.0


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
        self._by_tag: dict[str, set[str]] = {}  # tag → keys of the copies under it
        self._bytes = 0
        self._drops: deque[tuple[float, frozenset[str]]] = deque()  # the last RECENT s

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
        now = self.clock()
        if now - read_at > RECENT:
            return
        if any(at >= read_at and not dropped.isdisjoint(tags) for at, dropped in self._drops):
            return
        self._remove(key)
        # Every copy lives the same TTL, so the oldest are the first to expire.
        while self._copies and next(iter(self._copies.values())).until <= now:
            self._remove(next(iter(self._copies)))
        self._copies[key] = _Copy(body, tags, now + self.options.ttl)
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        self._bytes += len(body)
        while self._bytes > self.options.max_bytes:
            self._remove(next(iter(self._copies)))

    def drop_tags(self, tags: Iterable[str]) -> None:
        """Forget every copy hanging on one of `tags` (a write through this edge)."""
        bumped = frozenset(tags)
        now = self.clock()
        while self._drops and self._drops[0][0] < now - RECENT:
            self._drops.popleft()
        self._drops.append((now, bumped))
        for tag in bumped:
            for key in list(self._by_tag.get(tag, ())):
                self._remove(key)

    def __len__(self) -> int:
        return len(self._copies)

    def _remove(self, key: str) -> None:
        copy = self._copies.pop(key, None)
        if copy is None:
            return
        self._bytes -= len(copy.body)
        for tag in copy.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
