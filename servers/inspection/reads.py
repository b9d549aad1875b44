"""ListInspections, GetInspection, ListFindings and GetFinding.

Tasks are listed soonest due first, findings in the order they were observed; both page
by keyset (`servers.runtime.paging`). Which tasks a caller sees is
`servers.inspection.visibility`'s rule.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from palmgrid.inspection.v1 import inspection_service_pb2, resources_pb2
from servers.inspection.models import AssigneeRow, FindingRow, InspectionRow
from servers.inspection.resources import (
    INSPECTIONS,
    enum_name,
    finding_ids,
    finding_resource,
    inspection_resource,
)
from servers.inspection.store import assignees_by_task, load_task
from servers.inspection.visibility import own_tasks_condition, require_sees
from servers.runtime import NotFound, paging, require_principal, supply_office_condition

TASK_ORDER = (col(InspectionRow.due_time), col(InspectionRow.id))
FINDING_ORDER = (col(FindingRow.observe_time), col(FindingRow.id))


class ReadMethods:
    """The inspection service's reads."""

    runtime: Any

    def ListInspections(
        self, request: inspection_service_pb2.ListInspectionsRequest, context: Any
    ) -> inspection_service_pb2.ListInspectionsResponse:
        caller = require_principal()
        assignee = caller.user if request.assignee == "users/me" else request.assignee
        filters = [
            request.supply_office,
            request.customer,
            assignee,
            request.kind,
            request.state,
        ]
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        query = select(InspectionRow).where(
            supply_office_condition(caller, request.supply_office, InspectionRow.supply_office),
            own_tasks_condition(caller),
        )
        if request.customer:
            query = query.where(col(InspectionRow.customer) == request.customer)
        if assignee:
            assigned = select(AssigneeRow.inspection_id).where(col(AssigneeRow.user) == assignee)
            query = query.where(col(InspectionRow.id).in_(assigned))
        if request.kind:
            kind = enum_name(resources_pb2.InspectionKind, "INSPECTION_KIND_", request.kind)
            query = query.where(col(InspectionRow.kind) == kind)
        if request.state:
            state = enum_name(resources_pb2.InspectionState, "INSPECTION_STATE_", request.state)
            query = query.where(col(InspectionRow.state) == state)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.ascending_after(TASK_ORDER, key))
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            rows = list(session.exec(query.order_by(*TASK_ORDER).limit(size + 1)))
            assignees = assignees_by_task(session, [row.id for row in rows[:size]])
        token = paging.next_page_token(
            rows, size, lambda row: [paging.time_key(row.due_time), row.id], filters
        )
        return inspection_service_pb2.ListInspectionsResponse(
            inspections=[inspection_resource(row, assignees[row.id]) for row in rows[:size]],
            next_page_token=token,
        )

    def GetInspection(
        self, request: inspection_service_pb2.GetInspectionRequest, context: Any
    ) -> resources_pb2.Inspection:
        caller = require_principal()
        with self.runtime.session() as session:
            row, assignees = load_task(session, INSPECTIONS.id(request.name))
        require_sees(caller, row, assignees)
        return inspection_resource(row, assignees)

    def ListFindings(
        self, request: inspection_service_pb2.ListFindingsRequest, context: Any
    ) -> inspection_service_pb2.ListFindingsResponse:
        caller = require_principal()
        inspection_id = INSPECTIONS.id(request.parent)
        after = paging.decode_token(request.page_token, [request.parent], types=(str, str))
        size = paging.page_size(request.page_size, 50)
        query = select(FindingRow).where(col(FindingRow.inspection_id) == inspection_id)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.ascending_after(FINDING_ORDER, key))
        with self.runtime.session() as session:
            row, assignees = load_task(session, inspection_id)
            require_sees(caller, row, assignees)
            rows = list(session.exec(query.order_by(*FINDING_ORDER).limit(size + 1)))
        token = paging.next_page_token(
            rows, size, lambda row: [paging.time_key(row.observe_time), row.id], [request.parent]
        )
        return inspection_service_pb2.ListFindingsResponse(
            findings=[finding_resource(row) for row in rows[:size]], next_page_token=token
        )

    def GetFinding(
        self, request: inspection_service_pb2.GetFindingRequest, context: Any
    ) -> resources_pb2.Finding:
        caller = require_principal()
        inspection_id, finding_id = finding_ids(request.name)
        with self.runtime.session() as session:
            row, assignees = load_task(session, inspection_id)
            require_sees(caller, row, assignees)
            found = session.get(FindingRow, finding_id)
        if found is None or found.inspection_id != inspection_id:
            raise NotFound(f"{request.name} not found")
        return finding_resource(found)
