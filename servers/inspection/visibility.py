"""Which inspection tasks a caller sees: inspectors their own (assigned to them or made
by them), managers every task of their supply offices.

A manager is a caller who may reassign tasks (`inspection.inspections.assign`, the
`inspection-manager` role), or one covering every office, or a service account. Office
scope comes first: nobody sees a task of an office outside their scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import col, select

from palmgrid.type.v1 import identity_pb2
from palmlib.permissions import has_permission
from servers.inspection.models import AssigneeRow, InspectionRow
from servers.runtime import PermissionDenied, in_supply_office_scope

MANAGE_PERMISSION = "inspection.inspections.assign"


def is_manager(caller: identity_pb2.Principal) -> bool:
    """Whether `caller` sees every task of their offices, not only their own."""
    return (
        caller.all_supply_offices
        or caller.kind == identity_pb2.PRINCIPAL_KIND_SERVICE
        or has_permission(caller, MANAGE_PERMISSION)
    )


def sees(caller: identity_pb2.Principal, row: InspectionRow, assignees: Sequence[str]) -> bool:
    if not in_supply_office_scope(caller, row.supply_office):
        return False
    return is_manager(caller) or caller.user in assignees or caller.user == row.creator


def require_sees(
    caller: identity_pb2.Principal, row: InspectionRow, assignees: Sequence[str]
) -> None:
    """PERMISSION_DENIED (OUT_OF_SCOPE) unless `caller` sees the task."""
    if not sees(caller, row, assignees):
        raise PermissionDenied(
            "the inspection is outside the caller's data scope", reason="OUT_OF_SCOPE"
        )


def own_tasks_condition(caller: identity_pb2.Principal) -> ColumnElement[bool]:
    """The condition on InspectionRow for the tasks `caller` sees within their offices."""
    if is_manager(caller):
        return true()
    assigned: Any = select(AssigneeRow.inspection_id).where(col(AssigneeRow.user) == caller.user)
    return or_(col(InspectionRow.id).in_(assigned), col(InspectionRow.creator) == caller.user)
