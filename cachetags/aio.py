"""The edge's Memcached pool on asyncio: the `CachePool` rules without blocking a loop.

`AsyncCachePool` has the operations of `CachePool` as coroutines and keeps its rules:

- the same rendezvous hashing over the same node names, so the edge, the servers and
  the worker agree on where every key (tag generations above all) lives;
- connect and read timeouts of at most 100 ms; the first failure of a node marks it
  dead at once and its keys go to the other nodes;
- a failed operation raises `CacheUnavailable`;
- dead nodes are probed by a background task, never on a request, and a node that
  answers is flushed before it rejoins (docs/caching.md, "Nodes that come back").

It speaks Memcached's text protocol itself (a few commands: get, set, add, incr,
delete, flush_all), pipelined on one connection per node (`_Connection`). A timeout
or a garbled reply closes the connection and fails what waits on it, so no reply can
be read by the wrong caller.
A hung node costs the requests already waiting on it one timeout; nothing else waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
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
# Loop turns a timed-out read gets to take in a reply that has arrived (see `_Node`).
_GRACE_TURNS = 3


class _ProtocolError(Exception):
    """Memcached answered something this client does not expect."""


# A reply parser: given the connection's buffer and where the reply starts, either the
# reply and where it ends, or how long the buffer must be before it is worth parsing
# again. A reply may be a `_ProtocolError` (an error line answering one command, the
# connection still in step); a parser raises when the stream itself is garbled.
Received = bytes | bytearray
Parse = Callable[[Received, int], tuple[T | _ProtocolError, int] | int]


def _node_name(server: Server) -> str:
    # The same names as pymemcache's HashClient, so both pools place keys alike.
    return f"{server[0]}:{server[1]}"


def _error(line: bytes) -> _ProtocolError | None:
    if line == b"ERROR" or line.startswith((b"CLIENT_ERROR", b"SERVER_ERROR")):
        return _ProtocolError(line.decode(errors="replace"))
    return None


def _values(buffer: Received, at: int) -> tuple[dict[str, bytes] | _ProtocolError, int] | int:
    found: dict[str, bytes] = {}
    while True:
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            return len(buffer) + 1
        line = bytes(buffer[at:eol])
        if line == b"END":
            return found, eol + 2
        if (error := _error(line)) is not None:
            raise error  # a get answered by an error: what follows cannot be trusted
        parts = line.split()
        if len(parts) < 4 or parts[0] != b"VALUE":
            raise _ProtocolError(f"unexpected reply {line[:40]!r}")
        start = eol + 2
        end = start + int(parts[3])
        if len(buffer) < end + 2:
            return end + 2
        if buffer[end : end + 2] != b"\r\n":
            raise _ProtocolError("a value without its line end")
        found[parts[1].decode()] = bytes(buffer[start:end])
        at = end + 2


def _replies(count: int) -> Parse[list[bytes]]:
    """`count` one-line replies; an error line among them answers only its command."""

    def parse(buffer: Received, at: int) -> tuple[list[bytes] | _ProtocolError, int] | int:
        lines = []
        for _ in range(count):
            eol = buffer.find(b"\r\n", at)
            if eol < 0:
                return len(buffer) + 1
            lines.append(bytes(buffer[at:eol]))
            at = eol + 2
        errors = [e for e in map(_error, lines) if e is not None]
        return (errors[0] if errors else lines), at

    return parse


class _Connection(asyncio.Protocol):
    """One connection to a node. Commands are pipelined: Memcached answers a
    connection's commands in order, so each reply goes to the oldest waiting parser.

    Written on `asyncio.Protocol` rather than streams because a cached read is one
    exchange per request on the edge's loop: parsing in `data_received` and waking one
    future costs a fraction of StreamReader's awaits (docs/caching.md, "The edge's
    pool"). A reply whose caller stopped waiting is still read, then dropped; a timeout
    or a garbled reply closes the connection and fails every exchange still on it, so
    no reply can ever reach the wrong caller.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.need = 0  # bytes the buffer must hold before the next parse can progress
        self.waiting: deque[tuple[Parse[object], asyncio.Future[object]]] = deque()
        self.failed: BaseException | None = None
        self.last_data = 0.0  # loop time of the last bytes received
        # Commands written during one turn of the loop, sent together at its end: under
        # load many requests read at once, and one write costs what one command does
        # (on loopback the sender's write also runs the receiver's TCP stack).
        self.outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_data = asyncio.get_running_loop().time()
        # Most replies arrive whole: they are parsed from the bytes received, and only
        # what is left over is copied into the buffer.
        buffer: Received = data
        if self.buffer:
            self.buffer += data
            buffer = self.buffer
            if len(buffer) < self.need:
                return
        # (With nothing buffered, at most one more byte was needed: `data` has it.)
        at = 0
        try:
            while self.waiting:
                parse, waiter = self.waiting[0]
                done = parse(buffer, at)
                if isinstance(done, int):
                    self.need = done - at
                    break
                result, at = done
                self.waiting.popleft()
                if waiter.done():
                    continue  # its caller gave up: the reply is read and dropped
                if isinstance(result, _ProtocolError):
                    waiter.set_exception(result)
                else:
                    waiter.set_result(result)
            else:
                self.need = 0
        except (_ProtocolError, ValueError) as exc:
            # A garbled stream: a ValueError (a length that is no number) marks the node
            # dead, as any read failure; an unexpected reply only fails the callers.
            self.fail(exc)
            return
        if buffer is data:
            self.buffer += memoryview(data)[at:]
        else:
            del self.buffer[:at]
        if self.buffer and not self.waiting:
            self.fail(_ProtocolError(f"a reply nobody asked for {bytes(self.buffer[:40])!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or ConnectionError("memcached closed the connection"))

    def send(self, payload: bytes, parse: Parse[T] | None) -> asyncio.Future[T] | None:
        """Write a command; the future of its reply (None when none is awaited)."""
        if self.failed is not None or self.transport is None:
            raise ConnectionError(f"connection closed: {self.failed!r}")
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.append(payload)
        if parse is None:
            return None
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.waiting.append((parse, waiter))  # type: ignore[arg-type]
        return waiter

    def _flush(self) -> None:
        if not self.outgoing:
            return
        payload = b"".join(self.outgoing)
        self.outgoing.clear()
        if self.failed is None and self.transport is not None:
            self.transport.write(payload)

    def fail(self, exc: BaseException) -> None:
        """Close, and fail every exchange still waiting with `exc`."""
        self._flush()  # commands given before (a store awaiting no reply) still go out
        if self.failed is None:
            self.failed = exc
        if self.transport is not None:
            with contextlib.suppress(Exception):  # its loop may be closed already
                self.transport.abort()
        while self.waiting:
            _, waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(exc)


class _Node:
    """One pipelined connection to a Memcached node, opened when first needed."""

    def __init__(self, server: Server, options: PoolOptions) -> None:
        self.server = server
        self.options = options
        self._conn: _Connection | None = None
        self._opening: asyncio.Future[_Connection] | None = None
        self._closings = 0  # how many times close() was called

    async def exchange(self, payload: bytes, parse: Parse[T] | None) -> T | None:
        conn = self._conn
        if conn is None or conn.failed is not None:
            conn = await self._connect()
        waiter = conn.send(payload, parse)
        if waiter is None:
            return None
        loop = asyncio.get_running_loop()
        sent = loop.time()
        timer = loop.call_at(
            sent + self.options.timeout, self._expire, conn, waiter, sent, _GRACE_TURNS
        )
        try:
            return await waiter
        finally:
            timer.cancel()

    # A method, not a closure in `exchange`: a closure that schedules itself is a
    # reference cycle, and each read's reply would wait for the garbage collector.
    def _expire(
        self, conn: _Connection, waiter: asyncio.Future[T], sent: float, turns: int
    ) -> None:
        if waiter.done():
            return
        loop = asyncio.get_running_loop()
        timeout = self.options.timeout
        if turns:
            # A loop too busy to read (a loaded machine) is not a hung node: a reply
            # already there gets a few more turns before the exchange fails, so a late
            # timer does not mark a healthy node dead (and have it flushed).
            loop.call_soon(self._expire, conn, waiter, sent, turns - 1)
        elif conn.last_data > max(sent, loop.time() - timeout):
            # Replies are still coming on this connection (this one waits behind
            # others'): the node is alive. It is hung when a timeout passes without a
            # byte while a reply is awaited.
            loop.call_at(conn.last_data + timeout, self._expire, conn, waiter, sent, _GRACE_TURNS)
        else:
            conn.fail(TimeoutError(f"memcached {_node_name(self.server)} did not answer"))

    async def _connect(self) -> _Connection:
        # Callers that find no connection share one attempt, which none of them can
        # cancel for the others.
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> _Connection:
        closings = self._closings
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.options.connect_timeout):
            transport, conn = await loop.create_connection(_Connection, *self.server)
        if closings != self._closings:  # closed while connecting: not kept
            transport.abort()
            raise ConnectionError(f"memcached {_node_name(self.server)}: closed while connecting")
        self._conn = conn
        return conn

    def close(self) -> None:
        self._closings += 1
        self._opening = None
        if self._conn is not None:
            self._conn.fail(ConnectionError("the pool closed the connection"))
            self._conn = None


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
        if reply == b"NOT_FOUND":
            return None
        try:
            return int(reply)
        except ValueError as exc:
            raise CacheUnavailable(f"memcached {name}: incr answered {reply[:40]!r}") from exc

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
        self._bind_loop()
        return self._ring.group(keys)

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
        except (OSError, ValueError) as exc:
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
