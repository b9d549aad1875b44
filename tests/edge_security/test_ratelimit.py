"""Rate limits: per IP and per user from the method options, shared by every replica,
reset with the window, and open when Memcached is down."""

from __future__ import annotations

import asyncio
from typing import Any

from cachetags import CachePool
from edge.ratelimit import Decision, RateLimiter
from palmgrid.options.v1 import options_pb2
from tests.cache.conftest import FAST, kill
from tools import memcached

LOGIN = "palmgrid.account.v1.AccountService.CreateSession"


def check(limiter: RateLimiter, *args: Any, **kwargs: Any) -> Decision:
    return asyncio.run(limiter.acheck(*args, **kwargs))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of a window

    def __call__(self) -> float:
        return self.now


def test_the_ip_limit_refuses_the_request_after_the_limit(pool: CachePool) -> None:
    clock = Clock()
    limiter = RateLimiter(pool, clock=clock)
    limits = options_pb2.RateLimit(per_ip_per_minute=3)
    decisions = [check(limiter, LOGIN, limits, client_ip="10.0.0.1", user=None) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].subject == "ip" and decisions[-1].retry_after == 60
    # Another address has its own counter.
    assert check(limiter, LOGIN, limits, client_ip="10.0.0.2", user=None).allowed


def test_retry_after_counts_down_to_the_next_window(pool: CachePool) -> None:
    clock = Clock()
    limiter = RateLimiter(pool, clock=clock)
    limits = options_pb2.RateLimit(per_ip_per_minute=1)
    check(limiter, LOGIN, limits, client_ip="10.0.0.1", user=None)
    clock.now += 45.5
    refused = check(limiter, LOGIN, limits, client_ip="10.0.0.1", user=None)
    assert (refused.allowed, refused.retry_after) == (False, 15)
    clock.now += 15
    assert check(limiter, LOGIN, limits, client_ip="10.0.0.1", user=None).allowed


def test_the_user_limit_applies_across_addresses(pool: CachePool) -> None:
    clock = Clock()
    limiter = RateLimiter(pool, clock=clock)
    limits = options_pb2.RateLimit(per_ip_per_minute=100, per_user_per_minute=2)
    allowed = [
        check(limiter, LOGIN, limits, client_ip=f"10.0.0.{i}", user="users/u1").allowed
        for i in range(3)
    ]
    assert allowed == [True, True, False]
    assert check(limiter, LOGIN, limits, client_ip="10.0.0.9", user="users/u2").allowed


def test_replicas_share_the_counters(node: memcached.MemcachedProcess) -> None:
    clock = Clock()
    limits = options_pb2.RateLimit(per_ip_per_minute=2)
    with CachePool([node.address], FAST) as one, CachePool([node.address], FAST) as two:
        first, second = RateLimiter(one, clock=clock), RateLimiter(two, clock=clock)
        assert check(first, LOGIN, limits, client_ip="10.0.0.1", user=None).allowed
        assert check(second, LOGIN, limits, client_ip="10.0.0.1", user=None).allowed
        assert not check(first, LOGIN, limits, client_ip="10.0.0.1", user=None).allowed


def test_methods_without_limits_are_not_counted(pool: CachePool) -> None:
    limiter = RateLimiter(pool)
    for _ in range(5):
        assert check(limiter, "m", options_pb2.RateLimit(), client_ip="10.0.0.1", user="u").allowed


def test_limits_fail_open_when_memcached_is_down(node: memcached.MemcachedProcess) -> None:
    limits = options_pb2.RateLimit(per_ip_per_minute=1)
    with CachePool([node.address], FAST) as p:
        limiter = RateLimiter(p)
        kill(node)
        assert all(
            check(limiter, LOGIN, limits, client_ip="10.0.0.1", user=None).allowed for _ in range(5)
        )
