"""The edge's Memcached pool on asyncio: the `CachePool` rules without blocking a loop.

`AsyncCachePool` has the operations of `CachePool` as coroutines and keeps its rules:

- the same rendezvous hashing over the same node names, so the edge, the servers and
  the worker agree on where every key (tag generations above all) lives;
- connect and read timeouts of at most 100 ms; the first failure of a node marks it
  dead at once and its keys go to the other nodes;
- a failed operation raises `CacheUnavailable`;
- dead nodes are probed by a background task, never on a request, and a node that
  answers is flushed before it rejoins (docs/caching.md, "Nodes that come back").

It speaks Memcached's text protocol over asyncio streams itself (a few commands:
get, set, add, incr, delete, flush_all). A connection whose exchange timed out, failed
or was cancelled is closed, never reused, so no reply can be read by the wrong caller.
A hung node costs the requests already waiting on it one timeout; nothing else waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from cachetags.observe import observed_async
from cachetags.pool import (
    CacheUnavailable,
    PoolOptions,
    Server,
    _expire,
    _FastRendezvous,
    parse_servers,
)

__all__ = ["AsyncCachePool"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Reader = asyncio.StreamReader
Parse = Callable[[Reader], Awaitable[T]]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# Loop turns a timed-out read gets to take in a reply that has arrived (see `_within`).
_GRACE_TURNS = 3


class _ProtocolError(Exception):
    """Memcached answered something this client does not expect."""


def _node_name(server: Server) -> str:
    # The same names as pymemcache's HashClient, so both pools place keys alike.
    return f"{server[0]}:{server[1]}"


async def _line(reader: Reader) -> bytes:
    return (await reader.readuntil(b"\r\n"))[:-2]


def _check(line: bytes) -> bytes:
    if line == b"ERROR" or line.startswith((b"CLIENT_ERROR", b"SERVER_ERROR")):
        raise _ProtocolError(line.decode(errors="replace"))
    return line


async def _values(reader: Reader) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    while True:
        line = _check(await _line(reader))
        if line == b"END":
            return found
        parts = line.split()
        if len(parts) < 4 or parts[0] != b"VALUE":
            raise _ProtocolError(f"unexpected reply {line[:40]!r}")
        data = await reader.readexactly(int(parts[3]) + 2)
        found[parts[1].decode()] = data[:-2]


def _replies(count: int) -> Parse[list[bytes]]:
    async def parse(reader: Reader) -> list[bytes]:
        return [_check(await _line(reader)) for _ in range(count)]

    return parse


async def _within(work: Awaitable[T], timeout: float) -> T:
    """The result of `work`, or TimeoutError when it is not done `timeout` s later.

    A loop too busy to run the reader (a loaded machine) is not a hung node: when the
    timer fires, the read gets a few more turns of the loop to take in a reply that is
    already there before it is cancelled, so a late timer does not mark a healthy node
    dead (and have it flushed).
    """
    loop = asyncio.get_running_loop()
    over = False
    async with asyncio.timeout(None) as deadline:

        def expire(turns: int) -> None:
            if over:
                return
            if turns:
                loop.call_soon(expire, turns - 1)
            else:
                deadline.reschedule(loop.time())

        timer = loop.call_at(loop.time() + timeout, expire, _GRACE_TURNS)
        try:
            return await work
        finally:
            over = True
            timer.cancel()


class _Node:
    """Idle connections to one Memcached node, and one exchange at a time on each."""

    def __init__(self, server: Server, options: PoolOptions) -> None:
        self.server = server
        self.options = options
        self.idle: list[_Conn] = []

    async def exchange(self, payload: bytes, parse: Parse[T] | None) -> T | None:
        conn = self.idle.pop() if self.idle else None
        try:
            if conn is None:
                async with asyncio.timeout(self.options.connect_timeout):
                    conn = await asyncio.open_connection(*self.server)
            reader, writer = conn
            writer.write(payload)
            result = None
            if parse is not None:
                result = await _within(parse(reader), self.options.timeout)
        except BaseException:
            if conn is not None:
                conn[1].close()
            raise
        if len(self.idle) < self.options.max_pool_size:
            self.idle.append(conn)
        else:
            conn[1].close()
        return result

    def close(self) -> None:
        for _, writer in self.idle:
            with contextlib.suppress(Exception):
                writer.close()
        self.idle.clear()


class AsyncCachePool:
    """`CachePool`'s operations as coroutines, for code on an event loop."""

    def __init__(self, servers: Iterable[str | Server], options: PoolOptions | None = None) -> None:
        self.options = options or PoolOptions()
        self.servers = parse_servers(servers)
        self._nodes = {_node_name(s): _Node(s, self.options) for s in self.servers}
        self._ring = _FastRendezvous()
        for name in self._nodes:
            self._ring.add_node(name)
        self._dead: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prober: asyncio.Task[None] | None = None
        self.failures = 0
        # Operations that waited for a reply (a get_many over several nodes is one: its
        # nodes are asked at once).
        self.round_trips = 0

    # -- reads ---------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        return (await self.get_many([key])).get(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values found; raises CacheUnavailable when any node holding a key failed."""
        batches = self._batches(dict.fromkeys(keys))
        self.round_trips += 1
        calls = [
            self._run(name, b"get " + " ".join(batch).encode() + b"\r\n", _values)
            for name, batch in batches.items()
        ]
        if len(calls) == 1:
            return await calls[0]
        found: dict[str, bytes] = {}
        for part in await asyncio.gather(*calls):
            found.update(part)
        return found

    # -- writes --------------------------------------------------------------------
    async def set(self, key: str, value: bytes, expire: int, *, wait: bool = False) -> None:
        """Store a value; with wait=False the node's reply is not awaited."""
        command = _storage(b"set", key, value, expire, noreply=not wait)
        name = self._node_for(key)
        if not wait:
            await self._run(name, command, None)
            return
        self.round_trips += 1
        (reply,) = await self._run(name, command, _replies(1))
        if reply != b"STORED":
            raise CacheUnavailable(f"memcached {name} did not store a key")

    async def set_many(self, values: Mapping[str, bytes], expire: int) -> None:
        """Store several values, awaiting every node's reply (used for invalidation)."""
        batches = self._batches(values)
        for name, batch in batches.items():
            self.round_trips += 1
            command = b"".join(_storage(b"set", k, values[k], expire) for k in batch)
            replies = await self._run(name, command, _replies(len(batch)))
            failed = sum(1 for reply in replies if reply != b"STORED")
            if failed:
                raise CacheUnavailable(f"memcached {name} did not store {failed} keys")

    async def add(self, key: str, value: bytes, expire: int) -> bool:
        """Store only if absent: True when stored, False when the key already exists."""
        name = self._node_for(key)
        self.round_trips += 1
        (reply,) = await self._run(name, _storage(b"add", key, value, expire), _replies(1))
        return reply == b"STORED"

    async def incr(self, key: str, delta: int = 1) -> int | None:
        """The incremented counter, or None when the key does not exist."""
        name = self._node_for(key)
        self.round_trips += 1
        (reply,) = await self._run(name, f"incr {key} {delta}\r\n".encode(), _replies(1))
        return None if reply == b"NOT_FOUND" else int(reply)

    async def delete(self, key: str, *, wait: bool = False) -> None:
        name = self._node_for(key)
        if wait:
            self.round_trips += 1
            await self._run(name, f"delete {key}\r\n".encode(), _replies(1))
        else:
            await self._run(name, f"delete {key} noreply\r\n".encode(), None)

    # -- the pool ------------------------------------------------------------------
    def live_servers(self) -> list[str]:
        return list(self._ring.nodes)

    def node_for(self, key: str) -> str | None:
        """The node a key lives on now (None with every node dead)."""
        return self._ring.get_node(key)

    async def flush_all(self) -> None:
        """Empty every live node (tests and benchmarks)."""
        for name in self.live_servers():
            await self._run(name, b"flush_all\r\n", _replies(1))

    def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            self._prober = None
        for node in self._nodes.values():
            node.close()

    # -- internals -----------------------------------------------------------------
    def _node_for(self, key: str) -> str:
        self._bind_loop()
        name = self._ring.get_node(key)
        if name is None:
            raise CacheUnavailable("no memcached node is alive")
        return name

    def _batches(self, keys: Iterable[str]) -> dict[str, list[str]]:
        batches: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            batches[self._node_for(key)].append(key)
        return batches

    def _bind_loop(self) -> None:
        # Connections belong to the loop that opened them; a pool used from a new loop
        # (tests run one loop after another) starts over with fresh connections.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.close()
            self._loop = loop
            if self._dead:
                self._start_probe()

    async def _run(self, name: str, payload: bytes, parse: Parse[T] | None) -> T:
        node = self._nodes[name]
        try:
            return await observed_async(payload, node.exchange(payload, parse))  # type: ignore[arg-type]
        except _ProtocolError as exc:
            raise CacheUnavailable(f"memcached {name}: {exc}") from exc
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as exc:
            # TimeoutError is an OSError; a reply cut short or garbled counts as a failure.
            self._node_failed(name, exc)
            raise CacheUnavailable(f"memcached {name} failed: {exc!r}") from exc

    def _node_failed(self, name: str, exc: BaseException) -> None:
        self.failures += 1
        if name in self._dead:
            return
        log.warning("memcached node marked dead", extra={"node": name, "error": repr(exc)})
        if name in self._ring.nodes:
            self._ring.remove_node(name)
        self._dead[name] = time.monotonic()
        self._nodes[name].close()
        self._start_probe()

    def _start_probe(self) -> None:
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        interval = min(self.options.dead_timeout, 1.0) / 2
        while self._dead:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for name, dead_since in list(self._dead.items()):
                if now - dead_since < self.options.dead_timeout:
                    continue
                if await self._flush_probe(name):
                    del self._dead[name]
                    self._ring.add_node(name)
                    log.info("memcached node back in the ring", extra={"node": name})
                else:
                    self._dead[name] = time.monotonic()

    async def _flush_probe(self, name: str) -> bool:
        """Flush a dead node over a fresh connection; True when it answered."""
        probe = _Node(self._nodes[name].server, self.options)
        try:
            (reply,) = await probe.exchange(b"flush_all\r\n", _replies(1)) or (b"",)
            return reply == b"OK"
        except Exception:
            return False
        finally:
            probe.close()


def _storage(
    command: bytes, key: str, value: bytes, expire: int, *, noreply: bool = False
) -> bytes:
    head = b"%s %s 0 %d %d" % (command, key.encode(), _expire(expire), len(value))
    return head + (b" noreply\r\n" if noreply else b"\r\n") + value + b"\r\n"
