"""Read-through with single flight and stale-if-error, for asyncio callers (the edge).

For one entry key, concurrent misses make one upstream call:

- inside a process, followers wait for the leader's in-flight call;
- across processes, the leader holds a short lease taken with Memcached `add`; other
  processes poll the entry for a moment, then call through themselves;
- while someone refreshes an expired entry, an entry still inside its stale window is
  served as is;
- when the upstream call fails with a failure (not a refusal such as NOT_FOUND), an
  entry inside its stale window is served instead of the error.

A cache that cannot answer never fails a read: the loader is called and nothing is
stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cachetags import keys, steps
from cachetags.entries import Entry, EntryStore
from cachetags.pool import CacheUnavailable

__all__ = ["FlightOptions", "Outcome", "ReadThrough", "Source"]

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[bytes]]
T = TypeVar("T")


class Source(enum.Enum):
    """Where an answer came from."""

    HIT = "hit"  # a fresh entry
    MISS = "miss"  # the upstream, and the answer was stored
    COALESCED = "coalesced"  # another caller's upstream call
    STALE = "stale"  # an expired entry, served while another caller refreshes it
    STALE_IF_ERROR = "stale-if-error"  # an expired entry, served because the upstream failed
    BYPASS = "bypass"  # the upstream; the cache could not answer


@dataclass(frozen=True, slots=True)
class Outcome:
    payload: bytes
    source: Source
    # The entry served or stored; None when the cache was bypassed or a store failed.
    entry: Entry | None


@dataclass(frozen=True, slots=True)
class FlightOptions:
    """Single-flight timing, in seconds."""

    # The lease outlives a stuck leader by at most this long (Memcached counts whole seconds).
    lease_seconds: int = 2
    # How long a follower waits for another caller's answer before calling through.
    wait_seconds: float = 0.25
    first_poll: float = 0.005
    max_poll: float = 0.05


@dataclass(frozen=True, slots=True)
class _Flight:
    """One load: the entry's key and tags, the generations read before the upstream
    call (the answer is stored under them), and the policy."""

    key: str
    tags: Sequence[str]
    generations: dict[str, bytes]
    ttl: float
    stale_for: float
    seal: bool
    is_failure: Callable[[BaseException], bool]
    json_body: bool


class ReadThrough:
    """Loads answers through an `EntryStore`."""

    def __init__(self, store: EntryStore, options: FlightOptions | None = None) -> None:
        self.store = store
        self.options = options or FlightOptions()
        self._inflight: dict[str, asyncio.Future[tuple[bytes, Entry | None]]] = {}
        # A lookup awaits Memcached, so a flight for its key may start and land while
        # it waits: callers still looking up a key find that flight's answer here
        # (ticket, payload, entry) instead of calling the upstream again.
        self._tickets = itertools.count()
        self._looking: Counter[str] = Counter()
        self._landed: dict[str, tuple[int, bytes, Entry | None]] = {}

    async def load(
        self,
        key: str,
        loader: Loader,
        *,
        tags: Sequence[str] = (),
        ttl: float,
        stale_for: float = 0,
        seal: bool = False,
        is_failure: Callable[[BaseException], bool] = lambda exc: True,
        read: Mapping[str, bytes] | None = None,
        json_body: bool = False,
    ) -> Outcome:
        """The answer for `key` under `tags`: from the cache, another caller's call, or
        `loader`. `read`: the lookup's keys already fetched in the caller's own batch.
        `json_body`: the loader answers with an encoded JSON body (stored as such; an
        entry found may still hold message bytes, see `Entry.json_body`)."""
        ticket = next(self._tickets)
        self._looking[key] += 1
        try:
            entry, generations = await self.store.alookup(key, tags, sealed=seal, read=read)
            if read is not None and (entry is None or not entry.fresh(self.store.clock())):
                # The batch was read before this call began and may predate another
                # caller's answer: a miss looks again, inside the single-flight window.
                entry, generations = await self.store.alookup(key, tags, sealed=seal)
        except CacheUnavailable:
            return Outcome(await loader(), Source.BYPASS, None)
        finally:
            landed = self._stop_looking(key)
        flight = _Flight(key, tags, generations, ttl, stale_for, seal, is_failure, json_body)
        now = self.store.clock()
        if entry is not None and entry.fresh(now):
            return Outcome(entry.payload, Source.HIT, entry)
        stale = entry if entry is not None and entry.servable_stale(now) else None

        running = self._inflight.get(key)
        if running is None and landed is not None and landed[0] > ticket:
            return Outcome(landed[1], Source.COALESCED, landed[2])
        if running is not None:
            if stale is not None:
                return Outcome(stale.payload, Source.STALE, stale)
            done = await self._wait_local(running)
            if done is not None:
                return Outcome(done[0], Source.COALESCED, done[1])
            return await self._call(flight, loader, stale)

        future: asyncio.Future[tuple[bytes, Entry | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self._inflight[key] = future
        try:
            outcome = await self._lead(flight, loader, stale)
            future.set_result((outcome.payload, outcome.entry))
            if outcome.source is Source.MISS and self._looking[key]:
                self._landed[key] = (next(self._tickets), outcome.payload, outcome.entry)
            return outcome
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        finally:
            del self._inflight[key]

    def _stop_looking(self, key: str) -> tuple[int, bytes, Entry | None] | None:
        """The flight that landed for the key while this caller looked it up, if any."""
        landed = self._landed.get(key)
        self._looking[key] -= 1
        if self._looking[key] <= 0:
            del self._looking[key]
            self._landed.pop(key, None)
        return landed

    async def _lead(self, flight: _Flight, loader: Loader, stale: Entry | None) -> Outcome:
        lease_key = keys.key("l", flight.key)
        try:
            leased = await self._run(
                steps.add(lease_key, os.urandom(8).hex().encode(), self.options.lease_seconds)
            )
        except CacheUnavailable:
            return Outcome(await loader(), Source.BYPASS, None)
        if not leased:
            # Another process is loading this key.
            if stale is not None:
                return Outcome(stale.payload, Source.STALE, stale)
            found = await self._poll(flight)
            if found is not None:
                return Outcome(found.payload, Source.COALESCED, found)
            return await self._call(flight, loader, stale)
        try:
            return await self._call(flight, loader, stale)
        finally:
            with contextlib.suppress(CacheUnavailable):
                await self._run(steps.delete(lease_key))

    async def _call(self, flight: _Flight, loader: Loader, stale: Entry | None) -> Outcome:
        try:
            payload = await loader()
        except Exception as exc:
            if (
                stale is not None
                and stale.servable_stale(self.store.clock())
                and flight.is_failure(exc)
            ):
                log.warning("upstream failed; serving a stale entry", extra={"error": str(exc)})
                return Outcome(stale.payload, Source.STALE_IF_ERROR, stale)
            raise
        try:
            entry: Entry | None = await self._run(
                self.store.put_steps(
                    flight.key,
                    payload,
                    ttl=flight.ttl,
                    stale_for=flight.stale_for,
                    seal=flight.seal,
                    generations=flight.generations,
                    json_body=flight.json_body,
                )
            )
        except CacheUnavailable:
            entry = None
        return Outcome(payload, Source.MISS, entry)

    async def _run(self, work: steps.Steps[T]) -> T:
        return await steps.run_async(self.store.pool, work)

    async def _wait_local(
        self, running: asyncio.Future[tuple[bytes, Entry | None]]
    ) -> tuple[bytes, Entry | None] | None:
        done, _ = await asyncio.wait({running}, timeout=self.options.wait_seconds)
        if not done or running.cancelled() or running.exception() is not None:
            return None
        return running.result()

    async def _poll(self, flight: _Flight) -> Entry | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.wait_seconds
        delay = self.options.first_poll
        while True:
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0)))
            try:
                entry, _ = await self.store.alookup(flight.key, flight.tags, sealed=flight.seal)
            except CacheUnavailable:
                return None
            if entry is not None and entry.fresh(self.store.clock()):
                return entry
            if loop.time() >= deadline:
                return None
            delay = min(delay * 2, self.options.max_poll)
