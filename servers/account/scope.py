"""Whose user resources a caller reaches (DATA_SCOPE_USER).

Everyone reaches their own (`users/me` or their own id). Reading another user's
resources (the user, sessions, inbox, bindings, subscriptions) takes
`account.users.list` (user administrators, customer-service agents) and, unless the
caller covers every supply office, a supply office in common with that user:

- a customer user is in the offices of the customers bound to them (as billing named
  them when each binding was verified); unbound, in none;
- a staff member is in the offices listed for them; one covering every office is
  reached only by callers covering every office.

Changing them is only possible through AccountAdminService. Our own services (service
principals covering every supply office) reach every user.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, and_, cast, exists, false, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from palmgrid.type.v1 import identity_pb2
from servers.account import models, users
from servers.runtime import PermissionDenied, Runtime, has_permission, require_principal
from servers.runtime.columns import contains_text

SERVICE = identity_pb2.PRINCIPAL_KIND_SERVICE
READ_OTHERS = "account.users.list"


@dataclass(frozen=True)
class Offices:
    """The supply offices a user belongs to."""

    everywhere: bool
    listed: frozenset[str]


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


def _out_of_scope(user_id: str) -> PermissionDenied:
    return PermissionDenied(f"users/{user_id} is outside the caller's scope", reason="OUT_OF_SCOPE")


def own_user_id(name: str) -> str:
    """The user id `name` names, which must be the caller's own (for changes)."""
    principal = require_principal()
    user_id = _user_id(principal, name)
    if principal.user != f"users/{user_id}" and not _is_trusted_service(principal):
        raise PermissionDenied(f"users/{user_id} is not the caller", reason="OUT_OF_SCOPE")
    return user_id


def readable_user_id(name: str, runtime: Runtime) -> str:
    """The user id `name` names, which the caller may read (see the module docstring)."""
    principal = require_principal()
    user_id = _user_id(principal, name)
    if principal.user == f"users/{user_id}" or _is_trusted_service(principal):
        return user_id
    if not has_permission(principal, READ_OTHERS):
        raise _out_of_scope(user_id)
    if principal.all_supply_offices:
        return user_id
    with runtime.session() as session:
        offices = offices_of(session, user_id)
    if offices.everywhere or not offices.listed & set(principal.supply_offices):
        raise _out_of_scope(user_id)
    return user_id


def offices_of(session: Session, user_id: str) -> Offices:
    """The supply offices user `user_id` belongs to (none when there is no such user)."""
    user = session.get(models.User, user_id)
    if user is None:
        return Offices(False, frozenset())
    if user.kind == users.CUSTOMER:
        bound = session.exec(
            select(models.CustomerBinding.supply_office).where(
                models.CustomerBinding.user_id == user_id
            )
        ).all()
        return Offices(False, frozenset(office for office in bound if office))
    if user.coverage == users.COVERAGE_ALL:
        return Offices(True, frozenset())
    listed = user.supply_offices if user.coverage == users.COVERAGE_LISTED else []
    return Offices(False, frozenset(listed))


def lists_office(office: str) -> ColumnElement[bool]:
    """Users whose listed supply offices include `office` (whatever their coverage)."""
    # The offices are a JSON list of strings; a code is letters, digits and hyphens
    # (the request's rule), so its quoted form found in the JSON text is that element.
    return contains_text(cast(col(models.User.supply_offices), String), f'"{office}"')


def users_visible_to(principal: identity_pb2.Principal) -> ColumnElement[bool] | None:
    """The condition on users that `principal` may list; None when it sees them all."""
    if principal.all_supply_offices:
        return None
    offices = list(principal.supply_offices)
    if not offices:
        return false()
    bound_there = exists().where(
        col(models.CustomerBinding.user_id) == col(models.User.id),
        col(models.CustomerBinding.supply_office).in_(offices),
    )
    return or_(
        and_(col(models.User.kind) == users.CUSTOMER, bound_there),
        and_(
            col(models.User.kind) != users.CUSTOMER,
            col(models.User.coverage) == users.COVERAGE_LISTED,
            or_(*(lists_office(office) for office in offices)),
        ),
    )
