"""Whether a principal's permissions grant a permission: the one rule the edge (coarse
check at the door) and every server (the check that counts) both apply."""

from __future__ import annotations

import functools

from palmgrid.type.v1 import identity_pb2

__all__ = ["has_permission"]


def has_permission(principal: identity_pb2.Principal, permission: str) -> bool:
    """Whether `principal` holds `permission`, exactly or by a granted pattern ending in
    `*` (`billing.*`, or `*` for everything, as given to service accounts)."""
    exact, prefixes = _grants(principal.SerializeToString())
    return permission in exact or permission.startswith(prefixes)


# Every request checks a permission against a principal holding dozens: what a
# principal's grants allow is worked out once per principal, keyed by its bytes (reading
# a repeated field builds a new string per item, several times dearer than serializing).
@functools.lru_cache(maxsize=1024)
def _grants(principal: bytes) -> tuple[frozenset[str], tuple[str, ...]]:
    """The exact permissions granted, and the prefixes that patterns ending in `*` grant."""
    permissions = identity_pb2.Principal.FromString(principal).permissions
    prefixes = tuple(granted[:-1] for granted in permissions if granted.endswith("*"))
    return frozenset(permissions), prefixes
