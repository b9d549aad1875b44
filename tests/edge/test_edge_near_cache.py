"""The near cache's own rules: a copy lives its TTL, a write here drops its tags' copies
and refuses copies of reads that started before it, and the bytes kept are bounded."""

from __future__ import annotations

import pytest

from edge.cache.near import RECENT, NearCache, NearCacheOptions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def near(ttl: float = 0.5, max_bytes: int = 1600) -> tuple[NearCache, Clock]:
    clock = Clock()
    return NearCache(NearCacheOptions(ttl=ttl, max_bytes=max_bytes), clock=clock), clock


def test_a_copy_is_served_until_its_ttl_and_not_after() -> None:
    cache, clock = near()
    cache.put("k", b"body", ["outlets"], read_at=clock.now)
    clock.now += 0.49
    assert cache.get("k") == b"body"
    clock.now += 0.01
    assert cache.get("k") is None
    assert len(cache) == 0


def test_the_ttl_counts_from_the_copy_not_from_the_last_use() -> None:
    cache, clock = near()
    cache.put("k", b"body", ["outlets"], read_at=clock.now)
    for _ in range(4):
        clock.now += 0.1
        assert cache.get("k") == b"body"
    clock.now += 0.1
    assert cache.get("k") is None


def test_a_write_here_drops_the_copies_of_its_tags_only() -> None:
    cache, clock = near()
    cache.put("outlets-1", b"a", ["outlets"], read_at=clock.now)
    cache.put("articles-1", b"b", ["articles"], read_at=clock.now)
    cache.drop_tags(["outlets"])
    assert cache.get("outlets-1") is None
    assert cache.get("articles-1") == b"b"


def test_a_read_that_started_before_a_drop_is_not_copied_after_it() -> None:
    cache, clock = near()
    read_at = clock.now
    clock.now += 0.01
    cache.drop_tags(["outlets"])  # a write through this edge, while the read was out
    clock.now += 0.01
    cache.put("k", b"before the write", ["outlets"], read_at=read_at)
    assert cache.get("k") is None
    # A read that started after the drop is copied.
    cache.put("k", b"after the write", ["outlets"], read_at=clock.now)
    assert cache.get("k") == b"after the write"


def test_the_oldest_copies_go_first_when_the_bytes_are_full() -> None:
    cache, clock = near(max_bytes=1600)  # bodies of up to 100 bytes are copied
    for i in range(16):
        cache.put(f"k{i}", bytes(100), ["t"], read_at=clock.now)
    assert len(cache) == 16
    cache.put("k16", bytes(100), ["t"], read_at=clock.now)
    assert cache.get("k0") is None and cache.get("k1") == bytes(100)
    assert cache.get("k16") == bytes(100) and len(cache) == 16


def test_a_body_larger_than_a_sixteenth_of_the_space_is_not_copied() -> None:
    cache, clock = near(max_bytes=1600)
    cache.put("big", bytes(101), ["t"], read_at=clock.now)
    assert cache.get("big") is None


def test_expired_copies_are_let_go_when_new_ones_come() -> None:
    cache, clock = near()
    for i in range(5):
        cache.put(f"old{i}", b"x", ["t"], read_at=clock.now)
    clock.now += 1
    cache.put("new", b"y", ["t"], read_at=clock.now)
    assert len(cache) == 1


def test_a_ttl_of_zero_turns_it_off() -> None:
    cache, clock = near(ttl=0)
    assert not cache.enabled
    cache.put("k", b"body", ["t"], read_at=clock.now)
    assert cache.get("k") is None


@pytest.mark.parametrize("options", [{"ttl": -1}, {"ttl": 6}, {"max_bytes": -1}])
def test_bad_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="near cache"):
        NearCacheOptions(**options)  # type: ignore[arg-type]


def test_a_read_that_took_longer_than_recent_is_not_copied() -> None:
    cache, clock = near()
    read_at = clock.now
    clock.now += RECENT + 0.1  # a slow upstream: writes that long ago are forgotten
    cache.put("k", b"body", ["outlets"], read_at=read_at)
    assert cache.get("k") is None


def test_a_drop_forgets_only_its_own_tags() -> None:
    cache, clock = near()
    read_at = clock.now
    cache.drop_tags(["customer/customers/3100000001"])  # a payment: no global copy hangs on it
    cache.put("k", b"outlets", ["outlets"], read_at=read_at)
    assert cache.get("k") == b"outlets"
