"""HTTP caching for the app: ETag, If-None-Match and Cache-Control from the policy."""

from __future__ import annotations

import base64
import hashlib

from edge.cache.policy import CachePlan

__all__ = ["cache_control", "etag", "matches"]


def etag(payload: bytes, variant: str, digest: bytes = b"") -> bytes:
    """A weak validator over the answer and how it is presented (sealed to which key,
    or masked): the same answer sealed for another key is another representation.
    `digest` is the payload's SHA-256 when the cache entry holding it has it, so that a
    hit does not hash its whole body again."""
    inner = digest or hashlib.sha256(payload).digest()
    hashed = hashlib.sha256(inner + b"\x00" + variant.encode())
    return b'W/"' + base64.urlsafe_b64encode(hashed.digest()[:18]) + b'"'


def matches(if_none_match: bytes | None, tag: bytes) -> bool:
    """Whether `If-None-Match` names the current representation (weak comparison)."""
    if not if_none_match:
        return False
    wanted = tag.removeprefix(b"W/")
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == wanted:
            return True
    return False


def cache_control(plan: CachePlan) -> bytes:
    """Public data may sit in any cache for `client_max_age`; a caller's data only in
    the phone's own cache, and revalidated when the policy gives no max-age."""
    visibility = b"public" if plan.public else b"private"
    if plan.client_max_age > 0:
        return visibility + b", max-age=" + str(plan.client_max_age).encode()
    return visibility + b", no-cache"
