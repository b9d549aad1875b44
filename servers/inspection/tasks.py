"""CreateInspection, AssignInspection and CancelInspection: making a task, changing who
does it, and calling it off.

A task is for a customer of one of the caller's supply offices (from billing's archive)
and has at least two assigned inspectors (the request rules count them; the account
service says whether each is an active inspector covering the office). The assigned
inspectors are told of it through the notification outbox. An anomaly task may name the
open metering anomaly of the same customer that prompted it, which it then claims. A
`request_id` makes the create idempotent per caller (`servers.runtime.idempotency`).
"""

from __future__ import annotations

from typing import Any

from palmgrid.inspection.v1 import inspection_service_pb2, resources_pb2
from servers.inspection.anomalies import claim
from servers.inspection.checklists import checklist
from servers.inspection.config import InspectionConfig
from servers.inspection.customers import CustomerArchive
from servers.inspection.messages import local_minute, send
from servers.inspection.models import OPEN_STATES, InspectionRow, InspectionState
from servers.inspection.resources import INSPECTIONS, inspection_resource, kind_name
from servers.inspection.staff import Staff
from servers.inspection.store import load_task, replace_assignees
from servers.inspection.visibility import require_sees
from servers.runtime import (
    Clock,
    FailedPrecondition,
    Runtime,
    audit_note,
    require_customer_scope,
    require_principal,
)
from servers.runtime.idempotency import IdempotentRequest, create_once
from servers.runtime.ids import new_id
from servers.runtime.protoconv import from_timestamp

ASSIGNED_TEMPLATE = "task.assigned"


def require_open(row: InspectionRow) -> None:
    """FAILED_PRECONDITION unless the task is still open."""
    if row.state not in OPEN_STATES:
        raise FailedPrecondition(
            f"inspections/{row.id} is {row.state.lower()}; only an open task can change",
            metadata={"state": row.state},
        )


class TaskMethods:
    """CreateInspection, AssignInspection, CancelInspection."""

    runtime: Runtime
    clock: Clock
    config: InspectionConfig
    archive: CustomerArchive
    staff: Staff

    def _tell_assigned(self, row: InspectionRow, users: list[str]) -> None:
        send(
            self.runtime,
            row,
            "assigned",
            template=ASSIGNED_TEMPLATE,
            users=users,
            parameters={"task": INSPECTIONS.name(row.id), "due": local_minute(row.due_time)},
            timeout=self.config.upstream_timeout_seconds,
        )

    def CreateInspection(
        self, request: inspection_service_pb2.CreateInspectionRequest, context: Any
    ) -> resources_pb2.Inspection:
        caller = require_principal()
        sent = request.inspection
        key = IdempotentRequest.of(self.runtime, request, clock=self.clock)
        if key is not None:
            earlier = key.replay(self.runtime, _load)
            if earlier is not None:
                return earlier
        customer = self.archive.customer(sent.customer, "inspection.customer")
        require_customer_scope(caller, sent.customer, customer.supply_office)
        assignees = list(sent.assignees)
        self.staff.require_inspectors(assignees, customer.supply_office, "inspection.assignees")
        now = self.clock.now()
        kind = kind_name(sent.kind)
        row = InspectionRow(
            id=new_id(),
            customer=sent.customer,
            kind=kind,
            description=sent.description,
            supply_office=customer.supply_office,
            anomaly=sent.anomaly,
            due_time=from_timestamp(sent.due_time),
            state=InspectionState.PENDING.value,
            customer_display_name=customer.holder_name,
            customer_phone=customer.phone,
            address=customer.address,
            checklist=list(checklist(kind)),
            creator=caller.user,
            create_time=now,
            update_time=now,
        )

        def create(session: Any) -> tuple[str, resources_pb2.Inspection]:
            session.add(row)
            session.flush()
            if sent.anomaly:
                claim(session, sent.anomaly, sent.customer, INSPECTIONS.name(row.id), now)
            replace_assignees(session, row.id, assignees)
            self._tell_assigned(row, assignees)
            made = inspection_resource(row, assignees)
            return made.name, made

        made = create_once(self.runtime, request, create=create, load=_load, clock=self.clock)
        audit_note().details = {"assignees": ",".join(made.assignees), "kind": kind}
        return made

    def AssignInspection(
        self, request: inspection_service_pb2.AssignInspectionRequest, context: Any
    ) -> resources_pb2.Inspection:
        caller = require_principal()
        inspection_id = INSPECTIONS.id(request.name)
        with self.runtime.session() as session:
            row, before = load_task(session, inspection_id)
        require_sees(caller, row, before)
        require_open(row)
        assignees = list(request.assignees)
        self.staff.require_inspectors(assignees, row.supply_office, "assignees")
        with self.runtime.session(write=True) as session:
            row, before = load_task(session, inspection_id, for_update=True)
            require_open(row)
            row.version += 1
            row.update_time = self.clock.now()
            session.add(row)
            replace_assignees(session, row.id, assignees)
            added = [user for user in assignees if user not in before]
            self._tell_assigned(row, added)
            audit_note().details = {
                "before": ",".join(before),
                "after": ",".join(assignees),
                "note": request.note,
            }
            return inspection_resource(row, assignees)

    def CancelInspection(
        self, request: inspection_service_pb2.CancelInspectionRequest, context: Any
    ) -> resources_pb2.Inspection:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row, assignees = load_task(session, INSPECTIONS.id(request.name), for_update=True)
            require_sees(caller, row, assignees)
            require_open(row)
            now = self.clock.now()
            row.state = InspectionState.CANCELLED.value
            row.cancel_reason = request.reason
            row.close_time = now
            row.update_time = now
            row.version += 1
            session.add(row)
            session.flush()
            audit_note().details = {"reason": request.reason}
            return inspection_resource(row, assignees)


def _load(session: Any, name: str) -> resources_pb2.Inspection:
    row, assignees = load_task(session, INSPECTIONS.id(name))
    return inspection_resource(row, assignees)
