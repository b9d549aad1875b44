"""The supply offices a staff list covers: the one asked for (which must be in the
caller's scope), else every office in the caller's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, true
from sqlmodel import col

from palmgrid.type.v1 import identity_pb2
from servers.runtime.errors import PermissionDenied
from servers.runtime.scopes import in_supply_office_scope


def office_condition(
    caller: identity_pb2.Principal, requested: str, column: Any
) -> ColumnElement[bool]:
    """The condition on `column` (a supply-office column) for a list by `caller` with
    the `supplyOffice` filter `requested` ("" for none); OUT_OF_SCOPE when the filter
    names an office outside the caller's scope."""
    if requested:
        if not in_supply_office_scope(caller, requested):
            raise PermissionDenied(
                f"supply office {requested} is outside the caller's data scope",
                reason="OUT_OF_SCOPE",
            )
        return col(column) == requested
    if caller.all_supply_offices:
        return true()
    return col(column).in_(list(caller.supply_offices))
