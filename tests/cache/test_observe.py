"""Each Memcached command is counted by operation and outcome, asynchronous ones too."""

from __future__ import annotations

import asyncio

import pytest

from cachetags.observe import CACHE_OPERATIONS, observed_async, operation_of


def _count(operation: str, outcome: str) -> float:
    return CACHE_OPERATIONS.labels(operation, outcome)._value.get()


@pytest.mark.parametrize(
    ("payload", "operation"),
    [
        (b"get a b c\r\n", "get"),
        (b"set k 0 60 3\r\nabc\r\n", "set"),
        (b"flush_all\r\n", "flush_all"),
        (b"delete k noreply\r\n", "delete"),
    ],
)
def test_the_operation_is_the_commands_first_word(payload: bytes, operation: str) -> None:
    assert operation_of(payload) == operation


def test_async_reads_count_hits_misses_and_errors() -> None:
    async def answer(value: dict[str, bytes]) -> dict[str, bytes]:
        return value

    async def fail() -> dict[str, bytes]:
        raise ConnectionResetError("node went away")

    before = {o: _count("get", o) for o in ("hit", "miss", "error")}
    assert asyncio.run(observed_async(b"get a\r\n", answer({"a": b"1"}))) == {"a": b"1"}
    assert asyncio.run(observed_async(b"get b\r\n", answer({}))) == {}
    with pytest.raises(ConnectionResetError):
        asyncio.run(observed_async(b"get c\r\n", fail()))
    assert {o: _count("get", o) - before[o] for o in before} == {"hit": 1, "miss": 1, "error": 1}
