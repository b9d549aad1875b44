"""The cache semantics written once, run over either Memcached transport.

Tag generations, entries, single-flight leases, session records, rate-limit counters
and replay marks are written as *steps*: generators that yield the pool operations
they need (`get`, `get_many`, `add`, …) and receive each result (or, when the cache
cannot answer, `CacheUnavailable` thrown in where the operation was yielded). A driver
runs them over a transport:

- `run(pool, steps)` over the synchronous `CachePool` (the servers, the worker);
- `await run_async(pool, steps)` over the edge's `AsyncCachePool`, without blocking
  the event loop (or over a `CachePool`, blocking, as tests of the semantics do).

So the rules (which key, what order, what a missing value means) exist once, and the
two transports differ only in how bytes reach Memcached.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cachetags.pool import CachePool, CacheUnavailable

if TYPE_CHECKING:
    from cachetags.aio import AsyncCachePool

__all__ = [
    "Batch",
    "Op",
    "Steps",
    "add",
    "delete",
    "get",
    "get_many",
    "incr",
    "run",
    "run_async",
    "set_",
    "set_many",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Op:
    """One pool operation: the name of a method both pools have, and its arguments."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


Steps = Generator[Op, Any, T]


def get(key: str) -> Steps[bytes | None]:
    value: bytes | None = yield Op("get", (key,))
    return value


def get_many(keys: Iterable[str]) -> Steps[dict[str, bytes]]:
    found: dict[str, bytes] = yield Op("get_many", (list(keys),))
    return found


def set_(key: str, value: bytes, expire: int, *, wait: bool = False) -> Steps[None]:
    yield Op("set", (key, value, expire), {"wait": wait})


def set_many(values: Mapping[str, bytes], expire: int) -> Steps[None]:
    yield Op("set_many", (dict(values), expire))


def add(key: str, value: bytes, expire: int) -> Steps[bool]:
    stored: bool = yield Op("add", (key, value, expire))
    return stored


def incr(key: str, delta: int = 1) -> Steps[int | None]:
    value: int | None = yield Op("incr", (key, delta))
    return value


def delete(key: str, *, wait: bool = False) -> Steps[None]:
    yield Op("delete", (key,), {"wait": wait})


@dataclass(frozen=True, slots=True)
class Batch:
    """Values read together in one get_many, and which keys were asked for (a key asked
    for and not found is absent from Memcached, not unknown)."""

    requested: frozenset[str]
    found: Mapping[str, bytes]

    def covering(self, keys: Iterable[str]) -> Mapping[str, bytes] | None:
        """The values, when every one of `keys` was asked for; else None."""
        return self.found if self.requested.issuperset(keys) else None


def run(pool: CachePool | AsyncCachePool | None, steps: Steps[T]) -> T:
    """Run steps over the synchronous pool (blocking on the asynchronous one would be a
    programming error: use `run_async`). Steps that need no operation need no pool."""
    op = _feed(steps)
    while isinstance(op, Op):
        if not isinstance(pool, CachePool):
            raise TypeError("a blocking cache call needs the synchronous CachePool")
        try:
            result = getattr(pool, op.name)(*op.args, **op.kwargs)
        except CacheUnavailable as exc:
            op = _feed(steps, error=exc)
        else:
            op = _feed(steps, result)
    return op.value  # type: ignore[no-any-return]


async def run_async(pool: AsyncCachePool | CachePool | None, steps: Steps[T]) -> T:
    """Run steps over the asynchronous pool (or, blocking, over the synchronous one)."""
    op = _feed(steps)
    while isinstance(op, Op):
        try:
            result = getattr(pool, op.name)(*op.args, **op.kwargs)
            result = await result if inspect.isawaitable(result) else result
        except CacheUnavailable as exc:
            op = _feed(steps, error=exc)
        else:
            op = _feed(steps, result)
    return op.value  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Done:
    value: Any


def _feed(steps: Steps[T], result: Any = None, error: CacheUnavailable | None = None) -> Op | _Done:
    """Resume the steps with an operation's result (or its failure): the next
    operation, or what the steps returned."""
    try:
        return steps.throw(error) if error is not None else steps.send(result)
    except StopIteration as done:
        return _Done(done.value)
