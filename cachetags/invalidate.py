"""The one-call invalidation API for servers: bump tags after a database commit.

    session.commit()
    TagInvalidator.shared(settings.memcached_servers).bump_customers(["3100000001"])

Bumping never raises: a cache that cannot be reached holds nothing it could serve
stale for long (its node leaves every client's ring and is flushed before it comes
back), and a failed write must not turn a committed change into an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from cachetags.pool import CachePool, CacheUnavailable, PoolOptions
from cachetags.tags import TagGenerations

__all__ = ["TagInvalidator", "bump_customer", "customer_tag", "user_tag"]

log = logging.getLogger(__name__)

_shared: dict[tuple[str, ...], TagInvalidator] = {}
_shared_lock = threading.Lock()


def customer_tag(customer: str) -> str:
    """The tag of a customer's data: `3100000001` or `customers/3100000001` →
    `customer/customers/3100000001` (what `customer/{parent}` renders to)."""
    name = customer if customer.startswith("customers/") else f"customers/{customer}"
    return f"customer/{name}"


def user_tag(user: str) -> str:
    """The tag of a user's data: `u1` or `users/u1` → `user/users/u1`."""
    name = user if user.startswith("users/") else f"users/{user}"
    return f"user/{name}"


class TagInvalidator:
    """Bumps tag generations on behalf of a server."""

    def __init__(self, pool: CachePool) -> None:
        self.pool = pool
        self.generations = TagGenerations(pool)

    @classmethod
    def from_servers(
        cls, servers: Iterable[str], options: PoolOptions | None = None
    ) -> TagInvalidator:
        """An invalidator with a pool of its own (`PALMGRID_MEMCACHED_SERVERS`)."""
        return cls(CachePool(servers, options))

    @classmethod
    def shared(cls, servers: Iterable[str]) -> TagInvalidator:
        """One invalidator per process and server list, made on first use: for call
        sites that have the settings but nowhere to keep a pool."""
        key = tuple(servers)
        with _shared_lock:
            invalidator = _shared.get(key)
            if invalidator is None:
                invalidator = _shared[key] = cls.from_servers(key)
        return invalidator

    def bump(self, tags: Iterable[str]) -> bool:
        """Make every entry under these tags stale; False when the cache did not take it."""
        tags = sorted(set(tags))
        if not tags:
            return True
        try:
            self.generations.bump(tags)
            return True
        except CacheUnavailable as exc:
            log.warning("cache tags not bumped", extra={"tags": tags, "error": str(exc)})
            return False

    def bump_customers(self, customers: Iterable[str]) -> bool:
        """Bump `customer/customers/<id>` for each customer (ids or names)."""
        return self.bump(customer_tag(c) for c in customers)

    def bump_users(self, users: Iterable[str]) -> bool:
        """Bump `user/users/<id>` for each user (ids or names)."""
        return self.bump(user_tag(u) for u in users)

    def close(self) -> None:
        self.pool.close()


def bump_customer(invalidator: TagInvalidator, customers: Iterable[str]) -> bool:
    """`invalidator.bump_customers(customers)`, for call sites that read as a function."""
    return invalidator.bump_customers(customers)
