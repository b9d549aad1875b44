"""The session-check cache: the account service's answer for a bearer token, briefly.

An entry is keyed by the token's SHA-256 and sealed (it holds an identity assertion).
Whether it may still be used is decided by a per-user *revocation mark*: the time of the
user's last logout, displacement or access change, written after the account service
committed it. An entry records when its account check started (`checked_at`); it
is used only while

    now < valid_until   and   the mark exists   and   checked_at > mark + skew.

Because `checked_at` is taken before the account call and the mark is written after
the commit, a check that raced a revocation always predates the mark, and the very
next request goes back to the account service. A missing mark (never written, evicted,
or lost with a restarted node) means "cannot answer": it is recreated as *now*, which
makes every older entry of the user unusable. See docs/caching.md.
"""

from __future__ import annotations

import contextlib
import logging
import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetags import keys, steps
from cachetags.crypto import CipherError, ValueCipher
from cachetags.pool import CachePool, CacheUnavailable
from cachetags.steps import Steps

if TYPE_CHECKING:
    from cachetags.aio import AsyncCachePool

__all__ = ["SessionCache", "SessionRecord", "SessionRevocations"]

log = logging.getLogger(__name__)

MARK_TTL = 24 * 3600
_HEAD = struct.Struct(">BddH")
_VERSION = 1


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """An account service answer for a token, as the edge keeps it."""

    user: str  # users/{user}, whose revocation mark governs the record
    payload: bytes  # the edge's own encoding of the answer
    checked_at: float  # Unix time taken just before the account call
    valid_until: float  # Unix time after which the record is never used


class SessionRevocations:
    """Writes revocation marks. The account service (or the edge after a logout or a
    login that displaced sessions) calls `revoke_users` after its commit. The plain
    methods block on a `CachePool`; the `a…` coroutines run the same steps on an
    `AsyncCachePool`."""

    def __init__(
        self, pool: CachePool | AsyncCachePool, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.pool = pool
        self.clock = clock

    def revoke_users(self, users: Iterable[str]) -> bool:
        """Mark the users' cached sessions stale; False when the cache did not take it
        (then the entries expire by themselves within their short lifetime)."""
        return steps.run(self.pool, self._revoke(users))

    async def arevoke_users(self, users: Iterable[str]) -> bool:
        return await steps.run_async(self.pool, self._revoke(users))

    def _revoke(self, users: Iterable[str]) -> Steps[bool]:
        now = repr(self.clock()).encode()
        marks = {mark_key(user): now for user in users}
        if not marks:
            return True
        try:
            yield from steps.set_many(marks, MARK_TTL)
            return True
        except CacheUnavailable as exc:
            log.warning("revocation mark not stored", extra={"error": str(exc)})
            return False


def mark_key(user: str) -> str:
    return keys.key("r", user)


class SessionCache(SessionRevocations):
    """Looks up and stores session records; never raises for a cache failure."""

    def __init__(
        self,
        pool: CachePool | AsyncCachePool,
        cipher: ValueCipher,
        *,
        skew: float = 1.0,
        clock: Callable[[], float] = time.time,
        recent_capacity: int = 10_000,
    ) -> None:
        super().__init__(pool, clock=clock)
        self.cipher = cipher
        self.skew = skew
        # Records this process read or wrote lately. A record never changes once
        # written, so keeping it saves fetching and opening it again; its revocation
        # mark is still read from Memcached on every lookup.
        self._recent: OrderedDict[str, SessionRecord] = OrderedDict()
        self._recent_capacity = recent_capacity
        self._lock = threading.Lock()

    def lookup(self, token: str) -> SessionRecord | None:
        """The record for the token if it may be used now, else None."""
        return steps.run(self.pool, self.lookup_steps(token))

    async def alookup(
        self, token: str, found: Mapping[str, bytes] | None = None
    ) -> SessionRecord | None:
        """`lookup` on the asynchronous pool; `found` as in `lookup_steps`."""
        return await steps.run_async(self.pool, self.lookup_steps(token, found))

    def store(self, token: str, record: SessionRecord) -> None:
        """Keep the record until `valid_until` (best effort)."""
        steps.run(self.pool, self.store_steps(token, record))

    async def astore(self, token: str, record: SessionRecord) -> None:
        await steps.run_async(self.pool, self.store_steps(token, record))

    def forget(self, token: str) -> None:
        steps.run(self.pool, self.forget_steps(token))

    async def aforget(self, token: str) -> None:
        await steps.run_async(self.pool, self.forget_steps(token))

    # -- the semantics, for either transport ----------------------------------------
    def recalled(self, token: str) -> SessionRecord | None:
        """The record this process holds for the token, if any (no cache access)."""
        return self._recall(_record_key(token))

    def lookup_steps(
        self, token: str, found: Mapping[str, bytes] | None = None
    ) -> Steps[SessionRecord | None]:
        """`lookup` as steps. `found` holds values a caller already read in a batch
        (the record, the mark); only what is missing from it is fetched."""
        key = _record_key(token)
        found = found or {}
        try:
            record = self._recall(key)
            if record is None:
                raw = found.get(key)
                if raw is None:
                    raw = yield from steps.get(key)
                if raw is None:
                    return None
                record = self._decode(key, raw)
                if record is None:
                    return None
                self._remember(key, record)
            if self.clock() >= record.valid_until:
                return None
            mark = found.get(mark_key(record.user))
            if mark is None:
                mark = yield from steps.get(mark_key(record.user))
        except CacheUnavailable:
            return None
        return record if self._stands(record.checked_at, mark) else None

    async def aunrevoked(self, user: str, checked_at: float) -> bool:
        """Whether an account check of the user made at `checked_at` may still be used,
        by the rule records follow (the user's mark read now); False when the cache
        cannot say."""
        return await steps.run_async(self.pool, self.unrevoked_steps(user, checked_at))

    def unrevoked_steps(self, user: str, checked_at: float) -> Steps[bool]:
        try:
            mark = yield from steps.get(mark_key(user))
        except CacheUnavailable:
            return False
        return self._stands(checked_at, mark)

    def _stands(self, checked_at: float, mark: bytes | None) -> bool:
        """The rule: a check stands while the user's mark exists and predates it by more
        than the skew."""
        if mark is None:
            return False
        try:
            revoked_at = float(mark)
        except ValueError:
            return False
        return checked_at > revoked_at + self.skew

    def store_steps(self, token: str, record: SessionRecord) -> Steps[None]:
        key = _record_key(token)
        now = self.clock()
        if record.valid_until <= now:
            return
        user = record.user.encode()
        plain = _HEAD.pack(_VERSION, record.checked_at, record.valid_until, len(user))
        plain += user + record.payload
        try:
            # A user without a mark gets one now: entries older than it are unusable,
            # including this one for `skew` seconds, which is what a lost mark needs.
            if (yield from steps.get(mark_key(record.user))) is None:
                yield from steps.add(mark_key(record.user), repr(now).encode(), MARK_TTL)
            yield from steps.set_(
                key, self.cipher.seal(plain, key.encode()), math.ceil(record.valid_until - now)
            )
        except CacheUnavailable:
            return
        self._remember(key, record)

    def forget_steps(self, token: str) -> Steps[None]:
        key = _record_key(token)
        with self._lock:
            self._recent.pop(key, None)
        with contextlib.suppress(CacheUnavailable):
            yield from steps.delete(key)

    def _recall(self, key: str) -> SessionRecord | None:
        with self._lock:
            record = self._recent.get(key)
            if record is not None:
                self._recent.move_to_end(key)
            return record

    def _remember(self, key: str, record: SessionRecord) -> None:
        with self._lock:
            self._recent[key] = record
            self._recent.move_to_end(key)
            while len(self._recent) > self._recent_capacity:
                self._recent.popitem(last=False)

    def _decode(self, key: str, raw: bytes) -> SessionRecord | None:
        try:
            plain = self.cipher.open(raw, key.encode())
            version, checked_at, valid_until, user_len = _HEAD.unpack_from(plain)
        except (CipherError, struct.error):
            log.warning("unreadable session record ignored")
            return None
        if version != _VERSION:
            return None
        start = _HEAD.size
        user = plain[start : start + user_len].decode()
        return SessionRecord(user, plain[start + user_len :], checked_at, valid_until)


def _record_key(token: str) -> str:
    return keys.key("s", token)
