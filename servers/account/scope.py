"""Whose user resources a caller reaches (DATA_SCOPE_USER).

Everyone reaches their own (`users/me` or their own id). Reading another user's
resources takes `account.users.list` (user administrators, customer-service agents);
changing them is only possible through AccountAdminService. Our own services (service
principals covering every supply office) reach every user.
"""

from __future__ import annotations

from palmgrid.type.v1 import identity_pb2
from servers.runtime import PermissionDenied, has_permission, require_principal

SERVICE = identity_pb2.PRINCIPAL_KIND_SERVICE
READ_OTHERS = "account.users.list"


def _user_id(principal: identity_pb2.Principal, name: str) -> str:
    # "users/me", "users/123", "users/me/subscriptions", "users/123/messages/9"
    segment = name.split("/")[1]
    if segment == "me":
        if not principal.user.startswith("users/"):
            raise PermissionDenied("users/me names no user for this caller", reason="OUT_OF_SCOPE")
        return principal.user.removeprefix("users/")
    return segment


def _is_trusted_service(principal: identity_pb2.Principal) -> bool:
    return principal.kind == SERVICE and principal.all_supply_offices


def own_user_id(name: str) -> str:
    """The user id `name` names, which must be the caller's own (for changes)."""
    principal = require_principal()
    user_id = _user_id(principal, name)
    if principal.user != f"users/{user_id}" and not _is_trusted_service(principal):
        raise PermissionDenied(f"users/{user_id} is not the caller", reason="OUT_OF_SCOPE")
    return user_id


def readable_user_id(name: str) -> str:
    """The user id `name` names, which the caller may read."""
    principal = require_principal()
    user_id = _user_id(principal, name)
    own = principal.user == f"users/{user_id}"
    if not (own or _is_trusted_service(principal) or has_permission(principal, READ_OTHERS)):
        raise PermissionDenied(
            f"users/{user_id} is outside the caller's scope", reason="OUT_OF_SCOPE"
        )
    return user_id
