"""Memcached key names: one prefix per kind of value, hashed so any input fits.

Memcached keys are at most 250 bytes of printable ASCII without spaces. Everything that
goes into a key (tags, request bytes, tokens, user names) is hashed with SHA-256 and
written in URL-safe base64, so a key is always short and safe whatever the input.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable

__all__ = ["NAMESPACE", "digest", "key", "many"]

# Bumped when the layout of any stored value changes, so old values are never read.
NAMESPACE = "pg1"


def digest(*parts: bytes | str) -> str:
    """43 URL-safe characters of SHA-256 over length-prefixed parts (no ambiguity)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


# A request reads the same few keys again and again (its session, its user's mark, the
# generations of its tags, its entry): a hit computed a dozen SHA-256 digests before
# this, about a tenth of its time at the edge. The function is pure; 16,384 keys are
# a few MiB at most.
@functools.lru_cache(maxsize=16_384)
def key(kind: str, *parts: bytes | str) -> str:
    """The Memcached key of a value of `kind` (a short ASCII label) named by parts."""
    return f"{NAMESPACE}:{kind}:{digest(*parts)}"


def many(kind: str, names: Iterable[str]) -> dict[str, str]:
    """Keys of several single-part names, name → key."""
    return {name: key(kind, name) for name in names}
