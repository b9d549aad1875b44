"""Cached answers: the key that covers everything the answer depends on, and the value.

The key hashes the method, the canonical request bytes, the sharing scope (who may see
the entry) and the generation of every tag, so an entry is found only by a request that
would get the same answer under the same generations. The value carries its own clock:
when it was stored, until when it is fresh and until when it may be served stale.
Values with personal or sensitive data are sealed with a `ValueCipher`; the Memcached
key and the header are the associated data, so a value moved to another key fails.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cachetags import keys
from cachetags.crypto import CipherError, ValueCipher
from cachetags.pool import CachePool

__all__ = ["MAX_LIFETIME", "Entry", "EntryStore", "entry_key"]

log = logging.getLogger(__name__)

# No entry outlives a day, whatever a policy says: Memcached holds copies, not records.
MAX_LIFETIME = 24 * 3600

_HEADER = struct.Struct(">BBddd")
_VERSION = 1
_SEALED = 0x01


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer and its timing (Unix seconds)."""

    payload: bytes
    stored_at: float
    fresh_until: float
    stale_until: float

    def fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def servable_stale(self, now: float) -> bool:
        return now < self.stale_until


def entry_key(method: str, request: bytes, scope: str, generations: Mapping[str, bytes]) -> str:
    """The Memcached key of an answer.

    `request` must be canonical (deterministic serialization), `scope` names who shares
    the entry (`global`, `user:users/…`, `customer:customers/…`), and `generations` is
    every tag of the entry with its current generation.
    """
    parts: list[bytes | str] = [method, request, scope]
    for tag in sorted(generations):
        parts += [tag, generations[tag]]
    return keys.key("e", *parts)


class EntryStore:
    """Reads and writes entries in a pool, sealing them when asked."""

    def __init__(
        self,
        pool: CachePool,
        cipher: ValueCipher | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.cipher = cipher
        self.clock = clock

    def get(self, key: str, *, sealed: bool = False) -> Entry | None:
        """The entry, or None when absent or unreadable; CacheUnavailable propagates.

        With `sealed`, an entry stored in the clear is ignored: only a process holding
        the key can have written a sealed one.
        """
        raw = self.pool.get(key)
        if raw is None:
            return None
        try:
            return self._decode(key, raw, sealed)
        except (CipherError, struct.error, ValueError) as exc:
            log.warning("unreadable cache entry ignored", extra={"error": str(exc)})
            return None

    def put(
        self, key: str, payload: bytes, *, ttl: float, stale_for: float = 0, seal: bool
    ) -> Entry:
        """Store an answer fresh for `ttl` s and servable stale `stale_for` s more.

        Raises CacheUnavailable; does not wait for the node's reply.
        """
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = self.clock()
        fresh = min(ttl, MAX_LIFETIME)
        stale = min(fresh + max(stale_for, 0), MAX_LIFETIME)
        entry = Entry(payload, now, now + fresh, now + stale)
        flags = _SEALED if seal else 0
        if seal and self.cipher is None:
            raise ValueError("sealing needs a cipher")
        header = _HEADER.pack(
            _VERSION, flags, entry.stored_at, entry.fresh_until, entry.stale_until
        )
        body = self.cipher.seal(payload, key.encode() + header) if seal and self.cipher else payload
        self.pool.set(key, header + body, math.ceil(stale))
        return entry

    def _decode(self, key: str, raw: bytes, sealed: bool) -> Entry:
        version, flags, stored, fresh, stale = _HEADER.unpack_from(raw)
        if version != _VERSION:
            raise ValueError(f"entry version {version}")
        if sealed and not flags & _SEALED:
            raise CipherError("entry expected sealed is in the clear")
        header, body = raw[: _HEADER.size], raw[_HEADER.size :]
        if flags & _SEALED:
            if self.cipher is None:
                raise CipherError("sealed entry but no cipher configured")
            body = self.cipher.open(body, key.encode() + header)
        return Entry(body, stored, fresh, stale)
