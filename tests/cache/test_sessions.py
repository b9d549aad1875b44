"""Session records: used until revoked, never after, even across node loss and return."""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetags import (
    CachePool,
    SessionCache,
    SessionRecord,
    SessionRevocations,
    ValueCipher,
    steps,
)
from cachetags.sessions import mark_key
from tests.cache.conftest import FAST, kill
from tools import memcached


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def record(clock: Clock, user: str = "users/u1", checked_at: float | None = None) -> SessionRecord:
    checked = clock.now if checked_at is None else checked_at
    return SessionRecord(user, b"principal", checked, clock.now + 30)


def settled(pool: CachePool, clock: Clock) -> SessionCache:
    """A cache whose users already carry a revocation mark older than the skew."""
    cache = SessionCache(pool, ValueCipher.generate(), skew=1.0, clock=clock)
    cache.revoke_users(["users/u1", "users/u2"])
    clock.now += 2
    return cache


def test_a_stored_record_is_found_and_holds_no_plaintext(pool: CachePool) -> None:
    clock = Clock()
    cache = settled(pool, clock)
    cache.store("token-1", record(clock))
    found = cache.lookup("token-1")
    assert found is not None and found.payload == b"principal" and found.user == "users/u1"
    assert cache.lookup("token-2") is None


def test_a_revocation_stops_the_very_next_lookup(pool: CachePool) -> None:
    clock = Clock()
    cache = settled(pool, clock)
    cache.store("token-1", record(clock))
    cache.store("token-2", record(clock, user="users/u2"))
    clock.now += 0.001
    SessionRevocations(pool, clock=clock).revoke_users(["users/u1"])
    assert cache.lookup("token-1") is None
    assert cache.lookup("token-2") is not None


def test_a_check_that_raced_a_revocation_is_never_used(pool: CachePool) -> None:
    clock = Clock()
    cache = settled(pool, clock)
    started = clock.now  # the account check starts …
    clock.now += 0.01
    cache.revoke_users(["users/u1"])  # … a logout commits and is marked …
    clock.now += 0.01
    cache.store("token-1", record(clock, checked_at=started))  # … the check's answer lands
    assert cache.lookup("token-1") is None


def test_a_check_in_hand_stands_by_the_same_rule_as_a_record(pool: CachePool) -> None:
    """A check not stored yet (one that other requests waited for) is judged by the
    user's mark read now: older than the mark, or without one, it does not stand."""
    clock = Clock()
    cache = settled(pool, clock)
    assert steps.run(pool, cache.unrevoked_steps("users/u1", clock.now))
    started = clock.now
    clock.now += 0.01
    cache.revoke_users(["users/u1"])
    assert not steps.run(pool, cache.unrevoked_steps("users/u1", started))
    assert steps.run(pool, cache.unrevoked_steps("users/u2", started))
    assert not steps.run(pool, cache.unrevoked_steps("users/nobody", clock.now))


def test_a_record_expires_on_its_own(pool: CachePool) -> None:
    clock = Clock()
    cache = settled(pool, clock)
    cache.store("token-1", record(clock))
    clock.now += 31
    assert cache.lookup("token-1") is None


def test_a_lost_revocation_mark_makes_records_unusable(pool: CachePool) -> None:
    clock = Clock()
    cache = settled(pool, clock)
    cache.store("token-1", record(clock))
    pool.delete("pg1:r:" + "x")  # unrelated marks do nothing
    assert cache.lookup("token-1") is not None
    pool.delete(mark_key("users/u1"), wait=True)
    assert cache.lookup("token-1") is None
    # Storing again recreates the mark as "now": older checks stay unusable.
    cache.store("token-1", record(clock))
    assert cache.lookup("token-1") is None
    clock.now += 2
    cache.store("token-1", record(clock))
    assert cache.lookup("token-1") is not None


def test_a_restarted_node_does_not_resurrect_a_revoked_session(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    a, b = start_memcached(), start_memcached()
    clock = Clock()
    with CachePool([a.address, b.address], FAST) as pool:
        cache = settled(pool, clock)
        tokens = [f"token-{i}" for i in range(8)]
        for t in tokens:
            cache.store(t, record(clock))
        clock.now += 0.001
        cache.revoke_users(["users/u1"])
        kill(a)
        start_memcached(port=a.port)
        deadline = time.monotonic() + 3
        while len(pool.live_servers()) < 2 and time.monotonic() < deadline:
            for t in tokens:
                assert cache.lookup(t) is None
            time.sleep(0.05)
        assert len(pool.live_servers()) == 2
        assert all(cache.lookup(t) is None for t in tokens)


def user_marked_on(pool: CachePool, address: str) -> str:
    """A user whose revocation mark lives on the node at `address`."""
    for i in range(100):
        user = f"users/u{i}"
        if pool._ring.hasher.get_node(mark_key(user)) == address:
            return user
    raise AssertionError("no user maps to the node")


def test_a_node_returning_with_old_entries_does_not_resurrect_a_revoked_session(
    start_memcached: Callable[..., memcached.MemcachedProcess],
) -> None:
    a, b = start_memcached(), start_memcached()
    clock = Clock()
    with CachePool([a.address, b.address], FAST) as pool:
        user = user_marked_on(pool, a.address)
        cache = SessionCache(pool, ValueCipher.generate(), skew=1.0, clock=clock)
        cache.revoke_users([user])
        clock.now += 2
        tokens = [f"token-{i}" for i in range(8)]
        for t in tokens:
            cache.store(t, record(clock, user=user))
        assert all(cache.lookup(t) is not None for t in tokens)
        # Node a hangs, holding the user's old mark and some records; the logout's
        # mark goes to node b, the only one left.
        a.pause()
        try:
            for t in tokens:
                cache.lookup(t)
            assert pool.live_servers() == [b.address]
            clock.now += 0.001
            assert cache.revoke_users([user])
        finally:
            a.resume()
        # a answers again with its old mark and records; until it is back in the ring
        # and after, no record is usable.
        deadline = time.monotonic() + 3
        while len(pool.live_servers()) < 2 and time.monotonic() < deadline:
            assert all(cache.lookup(t) is None for t in tokens)
            time.sleep(0.05)
        assert len(pool.live_servers()) == 2
        assert all(cache.lookup(t) is None for t in tokens)


def test_with_memcached_down_nothing_is_found_and_nothing_raises(
    node: memcached.MemcachedProcess,
) -> None:
    clock = Clock()
    with CachePool([node.address], FAST) as pool:
        cache = settled(pool, clock)
        cache.store("token-1", record(clock))
        kill(node)
        assert cache.lookup("token-1") is None
        cache.store("token-1", record(clock))
        cache.forget("token-1")
        assert cache.revoke_users(["users/u1"]) is False
