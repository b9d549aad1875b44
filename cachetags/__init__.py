"""Memcached caching shared by the edge (reads) and the servers (invalidation).

- `CachePool`: the Memcached pool (pymemcache HashClient, rendezvous hashing, ≤100 ms
  timeouts, dead nodes out at once and flushed before they return).
- `AsyncCachePool`: the same pool on asyncio, for the edge (never blocks its loop).
- `steps`: the semantics below written once, run over either pool.
- `TagGenerations`, `TagInvalidator`: tag generations and the one-call bump for servers.
- `EntryStore`, `entry_key`, `ReadThrough`: cached answers, single flight, stale-if-error.
- `CachePlan`, `plan_method`, `entry_address`: which entry answers a request (edge and worker).
- `SessionCache`, `SessionRevocations`: cached session checks and revocation marks.
- `ValueCipher`: AES-GCM for values at rest.

See docs/caching.md.
"""

from __future__ import annotations

from cachetags.aio import AsyncCachePool
from cachetags.crypto import CipherError, ValueCipher, ensure_key_file
from cachetags.entries import MAX_LIFETIME, Entry, EntryStore, entry_key
from cachetags.flight import FlightOptions, Outcome, ReadThrough, Source
from cachetags.invalidate import TagInvalidator, bump_customer, customer_tag, user_tag
from cachetags.plans import CachePlan, EntryAddress, entry_address, plan_method
from cachetags.pool import CachePool, CacheUnavailable, PoolOptions, parse_servers
from cachetags.sessions import SessionCache, SessionRecord, SessionRevocations
from cachetags.tags import TagGenerations
from cachetags.templates import TagTemplate, TemplateError

__all__ = [
    "MAX_LIFETIME",
    "AsyncCachePool",
    "CachePlan",
    "CachePool",
    "CacheUnavailable",
    "CipherError",
    "Entry",
    "EntryAddress",
    "EntryStore",
    "FlightOptions",
    "Outcome",
    "PoolOptions",
    "ReadThrough",
    "SessionCache",
    "SessionRecord",
    "SessionRevocations",
    "Source",
    "TagGenerations",
    "TagInvalidator",
    "TagTemplate",
    "TemplateError",
    "ValueCipher",
    "bump_customer",
    "customer_tag",
    "ensure_key_file",
    "entry_address",
    "entry_key",
    "parse_servers",
    "plan_method",
    "user_tag",
]
