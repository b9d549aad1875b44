"""A pool of Memcached nodes that degrades to misses instead of failing.

`CachePool` wraps pymemcache's `HashClient` (rendezvous hashing, a connection pool per
node) with the failure rules every PalmGrid cache user relies on:

- Every operation has short timeouts (connect and read 100 ms by default). The
  first connection or read failure on a node marks it dead at once, so a down or hung
  node costs at most one timeout before its keys move to the other nodes.
- A failed operation raises `CacheUnavailable`; callers treat that as "the cache
  cannot answer" (a miss, or a reason to skip caching) and never as an error for the
  client.
- Dead nodes are probed in the background, not on the request path. A node that
  answers again is flushed before it takes keys back: while it was away its keys
  lived elsewhere and invalidations went there, so what it still holds may be stale
  (see docs/caching.md, "Nodes that come back").
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

from cachetags.observe import observed

__all__ = ["CachePool", "CacheUnavailable", "PoolOptions", "parse_servers"]

log = logging.getLogger(__name__)

Server = tuple[str, int]


class CacheUnavailable(Exception):
    """The cache could not answer: a node is down, hung or refused the command."""


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Timeouts and dead-node handling of a pool; seconds throughout."""

    connect_timeout: float = 0.1
    timeout: float = 0.1
    # How long a dead node stays out before the background probe tries it again.
    dead_timeout: float = 2.0
    # Connections kept per node by `CachePool` (servers call from many threads); the
    # edge's `AsyncCachePool` pipelines on one connection per node instead.
    max_pool_size: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.connect_timeout <= 0.1 or not 0 < self.timeout <= 0.1:
            raise ValueError("Memcached timeouts must be in (0, 0.1] seconds")
        if self.dead_timeout <= 0:
            raise ValueError("dead_timeout must be positive")


def parse_servers(servers: Iterable[str | Server]) -> list[Server]:
    """`"host:port"` strings (or tuples) as (host, port) pairs."""
    out: list[Server] = []
    for server in servers:
        if isinstance(server, tuple):
            out.append((server[0], int(server[1])))
            continue
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"Memcached server must be host:port, got {server!r}")
        out.append((host.strip("[]"), int(port)))
    if not out:
        raise ValueError("at least one Memcached server is needed")
    return out


class _FastRendezvous:
    """Rendezvous (highest random weight) hashing, as pymemcache's `RendezvousHash`,
    scored with BLAKE2b instead of a pure-Python MurmurHash: the same keys move when a
    node leaves or joins (only that node's), at a fraction of the cost per key."""

    def __init__(self) -> None:
        self.nodes: list[str] = []

    def add_node(self, node: str) -> None:
        if node not in self.nodes:
            self.nodes.append(node)

    def remove_node(self, node: str) -> None:
        self.nodes.remove(node)

    def group(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """`keys` by the node holding each (one hash per key; none with a single node);
        CacheUnavailable when there are keys and no node."""
        keys = list(keys)
        if not keys:
            return {}
        nodes = self.nodes
        if not nodes:
            raise CacheUnavailable("no memcached node is alive")
        if len(nodes) == 1:
            return {nodes[0]: keys}
        batches: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            batches[self._highest(nodes, key)].append(key)
        return batches

    def get_node(self, key: str | bytes) -> str | None:
        nodes = self.nodes
        if len(nodes) <= 1:
            return nodes[0] if nodes else None
        return self._highest(nodes, key)

    @staticmethod
    def _highest(nodes: list[str], key: str | bytes) -> str:
        raw = key.encode() if isinstance(key, str) else key
        return max(
            nodes,
            key=lambda node: hashlib.blake2b(node.encode() + b"-" + raw, digest_size=8).digest(),
        )


class _Ring(HashClient):
    """`HashClient` whose nodes die on their first failure and revive only when probed.

    The pymemcache retry machinery (retry_attempts, inline dead-node retries) is
    replaced: a failing node leaves the ring at once, and only `CachePool`'s probe
    thread puts it back, after flushing it.
    """

    def __init__(self, servers: Sequence[Server], options: PoolOptions) -> None:
        self._lock = threading.RLock()
        super().__init__(
            list(servers),
            hasher=_FastRendezvous,
            connect_timeout=options.connect_timeout,
            timeout=options.timeout,
            no_delay=True,
            use_pooling=True,
            max_pool_size=options.max_pool_size,
            retry_attempts=0,
            dead_timeout=options.dead_timeout,
            ignore_exc=False,
            default_noreply=False,
        )
        self.failures = 0

    # Revival happens in the probe thread, never inline on a request.
    def _retry_dead(self) -> None:
        return None

    def _get_client(self, key: Any) -> Any:
        with self._lock:
            return super()._get_client(key)

    def route(self, keys: Iterable[str]) -> dict[Any, list[str]]:
        """`keys` grouped by the client of the live node holding each, under one lock
        and without `_get_client`'s key check per key (the node's client checks each
        key as it sends it): a hit's multi-get spent a fifth of its time routing. A key
        Memcached refuses (callers hash theirs) still raises CacheUnavailable, from the
        node's client, once the keys routed before it were sent."""
        with self._lock:
            return {self.clients[name]: batch for name, batch in self.hasher.group(keys).items()}

    def _safely_run_func(
        self, client: Any, func: Any, default_val: Any, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return func(*args, **kwargs)
        except (OSError, MemcacheUnexpectedCloseError) as exc:
            self.node_failed(client.server, exc)
            raise CacheUnavailable(f"memcached {client.server} failed: {exc}") from exc

    def node_failed(self, server: Any, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if server in self._dead_clients:
                return
            log.warning(
                "memcached node marked dead", extra={"node": str(server), "error": str(exc)}
            )
            key = self._make_client_key(server)
            if key in self.hasher.nodes:
                self.hasher.remove_node(key)
            self._dead_clients[server] = time.monotonic()
            client = self.clients.get(key)
        if client is not None:
            # Closing a broken connection pool must not hide the failure itself.
            with contextlib.suppress(Exception):
                _close_idle(client)

    def dead_servers(self) -> dict[Any, float]:
        with self._lock:
            return dict(self._dead_clients)

    def revive(self, server: Any) -> None:
        with self._lock:
            self._dead_clients.pop(server, None)
            before = self.clients.get(self._make_client_key(server))
            self.add_server(server)  # a new pool of connections
        if before is not None:
            # What calls in flight at the failure gave back since.
            with contextlib.suppress(Exception):
                _close_idle(before)
        log.info("memcached node back in the ring", extra={"node": str(server)})


def _close_idle(pooled: Any) -> None:
    """Close the idle connections of a node's pool, not those other threads are using.

    pymemcache's `PooledClient.close()` closes those too: a socket closed under a thread
    waiting in poll or recv on it frees its number, which the next socket or file opened
    takes, and that thread then reads it (another connection's bytes). A connection in
    use fails or ends in its own thread and is closed at the node's revival, which gives
    it a new pool, once given back."""
    connections = pooled.client_pool
    for _ in range(len(connections.free)):
        connections.destroy(connections.get())


class CachePool:
    """The PalmGrid view of a Memcached pool: bytes keys and values, explicit failures.

    Keys are ASCII `str` (callers hash anything long or user-supplied). Every method
    raises `CacheUnavailable` when the cache cannot answer.
    """

    def __init__(self, servers: Iterable[str | Server], options: PoolOptions | None = None) -> None:
        self.options = options or PoolOptions()
        self.servers = parse_servers(servers)
        self._ring = _Ring(self.servers, self.options)
        self._stop = threading.Event()
        self._prober = threading.Thread(
            target=self._probe_loop, name="memcached-probe", daemon=True
        )
        self._prober.start()

    # -- reads ---------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        return self._run(self._ring.get, key)  # type: ignore[no-any-return]

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values found; raises CacheUnavailable when any node holding a key failed."""
        found: dict[str, bytes] = {}
        for client, batch in self._ring.route(dict.fromkeys(keys)).items():
            found.update(self._run_on(client, client.get_many, batch))
        return found

    # -- writes --------------------------------------------------------------------
    def set(self, key: str, value: bytes, expire: int, *, wait: bool = False) -> None:
        """Store a value; with wait=False the node's reply is not awaited."""
        self._run(self._ring.set, key, value, expire=_expire(expire), noreply=not wait)

    def set_many(self, values: Mapping[str, bytes], expire: int) -> None:
        """Store several values, awaiting every node's reply (used for invalidation)."""
        for client, batch in self._ring.route(values).items():
            failed = self._run_on(
                client,
                client.set_many,
                {key: values[key] for key in batch},
                expire=_expire(expire),
                noreply=False,
            )
            if failed:
                raise CacheUnavailable(
                    f"memcached {client.server} did not store {len(failed)} keys"
                )

    def add(self, key: str, value: bytes, expire: int) -> bool:
        """Store only if absent: True when stored, False when the key already exists."""
        return bool(self._run(self._ring.add, key, value, expire=_expire(expire), noreply=False))

    def incr(self, key: str, delta: int = 1) -> int | None:
        """The incremented counter, or None when the key does not exist."""
        result = self._run(self._ring.incr, key, delta, noreply=False)
        return None if result is None else int(result)

    def delete(self, key: str, *, wait: bool = False) -> None:
        self._run(self._ring.delete, key, noreply=not wait)

    # -- the pool ------------------------------------------------------------------
    @property
    def failures(self) -> int:
        """Node failures seen so far (each marks a node dead)."""
        return self._ring.failures

    def live_servers(self) -> list[str]:
        with self._ring._lock:
            return list(self._ring.hasher.nodes)

    def flush_all(self) -> None:
        """Empty every live node (tests and benchmarks)."""
        for key in self.live_servers():
            client = self._ring.clients[key]
            self._run_on(client, client.flush_all, noreply=False)

    def close(self) -> None:
        self._stop.set()
        self._prober.join(timeout=2)
        for client in list(self._ring.clients.values()):
            with contextlib.suppress(Exception):
                client.close()

    def __enter__(self) -> CachePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------
    def _run(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return observed(method, *args, **kwargs)
        except CacheUnavailable:
            raise
        except MemcacheError as exc:
            raise CacheUnavailable(str(exc)) from exc

    def _run_on(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        return self._run(self._ring._safely_run_func, client, func, None, *args, **kwargs)

    def _probe_loop(self) -> None:
        interval = min(self.options.dead_timeout, 1.0) / 2
        while not self._stop.wait(interval):
            now = time.monotonic()
            for server, dead_since in self._ring.dead_servers().items():
                if now - dead_since >= self.options.dead_timeout and self._flush_probe(server):
                    self._ring.revive(server)

    def _flush_probe(self, server: Any) -> bool:
        """Flush a dead node over a fresh connection; True when it answered."""
        probe = Client(
            server,
            connect_timeout=self.options.connect_timeout,
            timeout=self.options.timeout,
            default_noreply=False,
        )
        try:
            probe.flush_all(noreply=False)
            return True
        except Exception:
            with self._ring._lock:
                if server in self._ring._dead_clients:
                    self._ring._dead_clients[server] = time.monotonic()
            return False
        finally:
            probe.close()


def _expire(seconds: int) -> int:
    # Memcached reads expirations above 30 days as Unix times; entries never live that long.
    if seconds < 0 or seconds > 30 * 24 * 3600:
        raise ValueError(f"expire must be within 30 days, got {seconds}")
    return int(seconds)
