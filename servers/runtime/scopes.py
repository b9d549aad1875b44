"""Data-scope checks for servicers (the `access.scope` of a method is theirs to enforce).

- customer scope: a customer user reaches only customers bound to them; staff reach
  customers of their supply offices (all of them with `all_supply_offices`).
- supply-office scope: staff reach resources of their supply offices; a customer user
  reaches only the resources they created.
- user scope: a caller reaches their own user resources.
Service principals with `all_supply_offices` pass every check. A failed check raises
PERMISSION_DENIED with reason OUT_OF_SCOPE; no caller at all raises UNAUTHENTICATED.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, true
from sqlmodel import col

from palmgrid.type.v1 import identity_pb2
from servers.runtime.errors import PermissionDenied
from servers.runtime.identity import AssertionInvalid

Principal = identity_pb2.Principal
CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
SERVICE = identity_pb2.PRINCIPAL_KIND_SERVICE


def _caller(principal: Principal | None) -> Principal:
    if principal is None:
        raise AssertionInvalid("this operation needs a signed identity assertion")
    return principal


def _out_of_scope(what: str) -> PermissionDenied:
    return PermissionDenied(f"{what} is outside the caller's data scope", reason="OUT_OF_SCOPE")


def in_supply_office_scope(principal: Principal, supply_office: str | None) -> bool:
    """Whether a staff or service principal reaches data of `supply_office`."""
    if principal.kind == CUSTOMER:
        return False
    if principal.all_supply_offices:
        return True
    return supply_office is not None and supply_office in principal.supply_offices


def in_customer_scope(
    principal: Principal, customer_name: str, customer_supply_office: str | None = None
) -> bool:
    """Whether `principal` may see customer `customer_name` ("customers/{id}"), whose
    supply office is `customer_supply_office` (needed to decide for staff)."""
    if principal.kind == CUSTOMER:
        return customer_name in principal.customers
    return in_supply_office_scope(principal, customer_supply_office)


def require_customer_scope(
    principal: Principal | None, customer_name: str, customer_supply_office: str | None = None
) -> Principal:
    """Raise unless the caller may see the customer; returns the principal."""
    caller = _caller(principal)
    if not in_customer_scope(caller, customer_name, customer_supply_office):
        raise _out_of_scope(customer_name)
    return caller


def require_supply_office_scope(
    principal: Principal | None, supply_office: str | None, *, creator: str | None = None
) -> Principal:
    """Raise unless the caller may see a resource of `supply_office` created by user
    `creator` ("users/{id}"): staff by supply office, customers only their own."""
    caller = _caller(principal)
    if caller.kind == CUSTOMER:
        allowed = creator is not None and creator == caller.user
    else:
        allowed = in_supply_office_scope(caller, supply_office)
    if not allowed:
        raise _out_of_scope("the resource")
    return caller


def require_user_scope(principal: Principal | None, user_name: str) -> Principal:
    """Raise unless `user_name` ("users/{id}", or "users/me") is the caller's own user."""
    caller = _caller(principal)
    own = user_name in (caller.user, "users/me")
    if not own and not (caller.kind == SERVICE and caller.all_supply_offices):
        raise _out_of_scope(user_name)
    return caller


def supply_office_condition(
    principal: Principal, requested: str, column: Any
) -> ColumnElement[bool]:
    """The condition on `column` (a supply-office column) for a staff list by
    `principal` with the `supplyOffice` filter `requested` ("" for none): that office,
    which must be in scope (else OUT_OF_SCOPE), or every office in scope."""
    if requested:
        if not in_supply_office_scope(principal, requested):
            raise _out_of_scope(f"supply office {requested}")
        return col(column) == requested
    if principal.all_supply_offices:
        return true()
    return col(column).in_(list(principal.supply_offices))
