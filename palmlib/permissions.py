"""Whether a principal's permissions grant a permission: the one rule the edge (coarse
check at the door) and every server (the check that counts) both apply."""

from __future__ import annotations

from palmgrid.type.v1 import identity_pb2

__all__ = ["has_permission"]


def has_permission(principal: identity_pb2.Principal, permission: str) -> bool:
    """Whether `principal` holds `permission`, exactly or by a granted pattern ending in
    `*` (`billing.*`, or `*` for everything, as given to service accounts)."""
    for granted in principal.permissions:
        if granted == permission:
            return True
        if granted.endswith("*") and permission.startswith(granted[:-1]):
            return True
    return False
