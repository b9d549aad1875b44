"""Cached answers: what the key covers, what the value carries, and when it is valid.

The key hashes the method, the canonical request bytes and the sharing scope (who may
see the entry). The value carries the generation of every tag of the entry as it was
read *before* the upstream call, and its own clock: when it was stored, until when it
is fresh and until when it may be served stale. `lookup` reads the entry and the
current generations of its tags in one `get_many` and returns the entry only when it
was stored under exactly those generations — so a bump makes every entry under the tag
invalid at once, as if the generations were part of the key, at one Memcached round
trip per read instead of two.

Values with personal or sensitive data are sealed with a `ValueCipher`; the Memcached
key, the header and the generations are the associated data, so a value moved to
another key or given other generations fails to open.
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetags import keys, steps
from cachetags.crypto import CipherError, ValueCipher
from cachetags.pool import CachePool
from cachetags.steps import Steps
from cachetags.tags import TagGenerations

if TYPE_CHECKING:
    from cachetags.aio import AsyncCachePool

__all__ = ["MAX_LIFETIME", "Entry", "EntryStore", "entry_key"]

log = logging.getLogger(__name__)

# No entry outlives a day, whatever a policy says: Memcached holds copies, not records.
MAX_LIFETIME = 24 * 3600

_HEADER = struct.Struct(">BBdddH")
_LENGTH = struct.Struct(">H")
# Version 3 puts the payload's SHA-256 in front of it, so a hit's ETag is not taken
# over the whole body again. It goes inside the seal: in the clear header it would let
# anyone reading Memcached test guesses of a sealed payload. Version 2 entries (no
# digest) are still read.
_VERSION = 3
_READ_VERSIONS = frozenset({2, 3})
_DIGEST = 32
_SEALED = 0x01
# The payload is the response body as the phone receives it (JSON), not a message's
# wire bytes: the edge serves it as it is. Pre-warmed entries hold wire bytes.
_JSON_BODY = 0x02

Generations = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached answer, the tag generations it was made under, and its timing."""

    payload: bytes
    stored_at: float
    fresh_until: float
    stale_until: float
    generations: Generations = ()
    # The payload is an encoded JSON body rather than the response message's bytes.
    json_body: bool = False
    # SHA-256 of the payload, stored with it (empty in entries of version 2).
    digest: bytes = b""

    def fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def servable_stale(self, now: float) -> bool:
        return now < self.stale_until


def entry_key(method: str, request: bytes, scope: str) -> str:
    """The Memcached key of an answer.

    `request` must be canonical (deterministic serialization); `scope` names who shares
    the entry (`global`, `user:users/…`, `customer:customers/…`).
    """
    return keys.key("e", method, request, scope)


def _canonical(generations: Mapping[str, bytes]) -> Generations:
    return tuple(sorted(generations.items()))


class EntryStore:
    """Reads and writes entries in a pool (either transport), sealing them when asked.

    The plain methods block on a `CachePool`; the `a…` coroutines run the same steps on
    an `AsyncCachePool`.
    """

    def __init__(
        self,
        pool: CachePool | AsyncCachePool,
        cipher: ValueCipher | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.cipher = cipher
        self.clock = clock
        self.tags = TagGenerations(pool)

    def lookup(
        self, key: str, tags: Sequence[str], *, sealed: bool = False
    ) -> tuple[Entry | None, dict[str, bytes]]:
        """The entry if it is valid under the tags' current generations, and those
        generations (to store a new answer under). One round trip when the
        generations exist; CacheUnavailable propagates.

        With `sealed`, an entry stored in the clear is ignored: only a process holding
        the key can have written a sealed one.
        """
        return steps.run(self.pool, self.lookup_steps(key, tags, sealed=sealed))

    async def alookup(
        self,
        key: str,
        tags: Sequence[str],
        *,
        sealed: bool = False,
        read: Mapping[str, bytes] | None = None,
    ) -> tuple[Entry | None, dict[str, bytes]]:
        """`lookup` on the asynchronous pool; `read` as in `lookup_steps`."""
        return await steps.run_async(
            self.pool, self.lookup_steps(key, tags, sealed=sealed, read=read)
        )

    def lookup_steps(
        self,
        key: str,
        tags: Sequence[str],
        *,
        sealed: bool = False,
        read: Mapping[str, bytes] | None = None,
    ) -> Steps[tuple[Entry | None, dict[str, bytes]]]:
        """`lookup` as steps. `read` holds what a caller already fetched of
        `lookup_keys(key, tags)` in a batch of its own (absent = not in Memcached)."""
        names = keys.many("t", tags)
        if read is None:
            read = yield from steps.get_many([key, *names.values()])
        generations = yield from self.tags.resolve_steps(names, dict(read))
        raw = read.get(key)
        entry = self._read(key, raw, sealed) if raw is not None else None
        if entry is not None and entry.generations != _canonical(generations):
            entry = None  # a tag was bumped since the entry was stored
        return entry, generations

    @staticmethod
    def lookup_keys(key: str, tags: Sequence[str]) -> list[str]:
        """The Memcached keys a lookup reads: the entry and its tags' generations."""
        return [key, *keys.many("t", tags).values()]

    def get(self, key: str, *, sealed: bool = False) -> Entry | None:
        """The entry as stored, whatever its generations; CacheUnavailable propagates."""
        raw = steps.run(self.pool, steps.get(key))
        return self._read(key, raw, sealed) if raw is not None else None

    def put(self, key: str, payload: bytes, **policy: Any) -> Entry:
        """`put_steps` (its keyword arguments) on the synchronous pool."""
        return steps.run(self.pool, self.put_steps(key, payload, **policy))

    def put_steps(
        self,
        key: str,
        payload: bytes,
        *,
        ttl: float,
        stale_for: float = 0,
        seal: bool,
        generations: Mapping[str, bytes] | None = None,
        json_body: bool = False,
    ) -> Steps[Entry]:
        """Store an answer made under `generations`, fresh for `ttl` s and servable
        stale `stale_for` s more. Raises CacheUnavailable; does not wait for the reply.
        `json_body`: the payload is the encoded JSON body, not the message's bytes.
        """
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        if seal and self.cipher is None:
            raise ValueError("sealing needs a cipher")
        now = self.clock()
        fresh = min(ttl, MAX_LIFETIME)
        stale = min(fresh + max(stale_for, 0), MAX_LIFETIME)
        tagged = _canonical(generations or {})
        digest = hashlib.sha256(payload).digest()
        entry = Entry(payload, now, now + fresh, now + stale, tagged, json_body, digest)
        flags = (_SEALED if seal else 0) | (_JSON_BODY if json_body else 0)
        head = _HEADER.pack(_VERSION, flags, now, entry.fresh_until, entry.stale_until, len(tagged))
        head += b"".join(_field(tag.encode()) + _field(token) for tag, token in tagged)
        body = digest + payload
        if seal and self.cipher:
            body = self.cipher.seal(body, key.encode() + head)
        yield from steps.set_(key, head + body, math.ceil(stale))
        return entry

    def _read(self, key: str, raw: bytes, sealed: bool) -> Entry | None:
        try:
            return self._decode(key, raw, sealed)
        except (CipherError, struct.error, ValueError, UnicodeDecodeError) as exc:
            log.warning("unreadable cache entry ignored", extra={"error": str(exc)})
            return None

    def _decode(self, key: str, raw: bytes, sealed: bool) -> Entry:
        version, flags, stored, fresh, stale, count = _HEADER.unpack_from(raw)
        if version not in _READ_VERSIONS:
            raise ValueError(f"entry version {version}")
        if sealed and not flags & _SEALED:
            raise CipherError("entry expected sealed is in the clear")
        offset = _HEADER.size
        tagged: list[tuple[str, bytes]] = []
        for _ in range(count):
            tag, offset = _take(raw, offset)
            token, offset = _take(raw, offset)
            tagged.append((tag.decode(), token))
        head, body = raw[:offset], raw[offset:]
        if flags & _SEALED:
            if self.cipher is None:
                raise CipherError("sealed entry but no cipher configured")
            body = self.cipher.open(body, key.encode() + head)
        digest = b""
        if version >= 3:
            if len(body) < _DIGEST:
                raise ValueError("truncated entry")
            digest, body = body[:_DIGEST], body[_DIGEST:]
        return Entry(body, stored, fresh, stale, tuple(tagged), bool(flags & _JSON_BODY), digest)


def _field(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _take(raw: bytes, offset: int) -> tuple[bytes, int]:
    (length,) = _LENGTH.unpack_from(raw, offset)
    start = offset + _LENGTH.size
    if start + length > len(raw):
        raise ValueError("truncated entry")
    return raw[start : start + length], start + length
