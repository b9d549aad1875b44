"""One wrapper around each Memcached call (`observed` for the pool's calls,
`observed_async` for an asynchronous client's commands): its span (inside a traced request) and its
Prometheus counts (`palmgrid_cache_operations_total{operation, outcome}`: hit, miss,
stored, error).

A read that returns nothing (None, or an empty dict from a multi-get) is a miss; any
exception is an error (the pool turns it into CacheUnavailable).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

__all__ = ["CACHE_OPERATIONS", "observed", "observed_async", "operation_of"]

T = TypeVar("T")

CACHE_OPERATIONS = Counter(
    "palmgrid_cache_operations",
    "Memcached calls by operation and outcome (hit, miss, stored, error).",
    ["operation", "outcome"],
)
_READS = frozenset({"get", "get_many", "gets"})
_tracer = trace.get_tracer("palmgrid.cachetags")


def _operation(method: Callable[..., Any], args: Sequence[Any]) -> str:
    name = getattr(method, "__name__", "call")
    if name == "_safely_run_func" and len(args) > 1:  # (client, func, ...): the func's
        name = getattr(args[1], "__name__", name)
    return name


def _outcome(operation: str, result: Any) -> str:
    if operation not in _READS:
        return "stored" if operation.startswith(("set", "add")) else "done"
    return "hit" if result else "miss"


def observed(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`method(*args, **kwargs)`, counted, and in a span when the request is traced."""
    operation = _operation(method, args)
    try:
        if trace.get_current_span().is_recording():
            with _span(operation):
                result = method(*args, **kwargs)
        else:
            result = method(*args, **kwargs)
    except BaseException:
        _counter(operation, "error").inc()
        raise
    _counter(operation, _outcome(operation, result)).inc()
    return result


async def observed_async(payload: bytes, work: Awaitable[T]) -> T:
    """The same for an asynchronous client's command: `payload` is the command line sent
    (its first word names the operation), `work` the awaitable exchange."""
    operation = operation_of(payload)
    try:
        if trace.get_current_span().is_recording():
            with _span(operation):
                result = await work
        else:
            result = await work
    except BaseException:
        _counter(operation, "error").inc()
        raise
    _counter(operation, _outcome(operation, result)).inc()
    return result


def operation_of(payload: bytes) -> str:
    """`get`, `set`, `flush_all` … from a Memcached text-protocol command."""
    word = payload.split(b"\r\n", 1)[0].split(b" ", 1)[0]
    return word.decode("ascii", "replace") or "call"


# `labels()` checks and joins its arguments on every call; operations and outcomes are
# a handful, so their children are kept (every cached read counts one). Nothing removes
# a label set from CACHE_OPERATIONS, which would leave a kept child counting unseen.
@functools.lru_cache(maxsize=256)
def _counter(operation: str, outcome: str) -> Counter:
    return CACHE_OPERATIONS.labels(operation, outcome)


def _span(operation: str) -> AbstractContextManager[trace.Span]:
    return _tracer.start_as_current_span(
        f"memcached {operation}",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "memcached", "db.operation.name": operation},
    )
