"""CreateApplication: an application is filed with every node of its kind's workflow,
the first begun at once with the limit in force for it.

The application goes to a supply office: its customer's (from billing; a customer may
file only for customers bound to them, staff only for their offices' customers), else
its area's (`workflow.toml`). A `request_id` makes the filing idempotent per caller
(`servers.runtime.idempotency`): a retry returns the application filed first; the same
id with another application is ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED). The applicant's
name, ID number and phone are left out of the request's fingerprint, so they are never
kept outside the application itself, not even hashed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from palmgrid.expansion.v1 import expansion_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.expansion.config import ExpansionConfig
from servers.expansion.limits import start_node
from servers.expansion.models import ApplicationRow, NodeRow
from servers.expansion.resources import enum_name, kind_name
from servers.expansion.store import load_row, message
from servers.expansion.transitions import record
from servers.expansion.upstream import customer_place
from servers.expansion.workflow import load_workflow
from servers.runtime import (
    Clock,
    PermissionDenied,
    Runtime,
    WorkingCalendar,
    audit_note,
    in_supply_office_scope,
    require_principal,
)
from servers.runtime.idempotency import IdempotentRequest
from servers.runtime.ids import new_id

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
# Kept out of the idempotency fingerprint (see the module docstring).
SENSITIVE = (
    "application.applicant.name",
    "application.applicant.id_number",
    "application.applicant.contact_phone",
)


def _out_of_scope(what: str) -> PermissionDenied:
    return PermissionDenied(f"{what} is outside the caller's data scope", reason="OUT_OF_SCOPE")


class FilingMethods:
    """CreateApplication."""

    runtime: Runtime
    clock: Clock
    config: ExpansionConfig

    def _place(
        self, caller: identity_pb2.Principal, sent: resources_pb2.Application
    ) -> tuple[str, str]:
        """The supply office and area of an application `caller` files."""
        if sent.customer:
            if caller.kind == CUSTOMER and sent.customer not in caller.customers:
                raise _out_of_scope(sent.customer)
            place = customer_place(
                self.runtime, sent.customer, timeout=self.config.upstream_timeout_seconds
            )
            office, area = place.supply_office, place.area_code
        else:
            area = sent.area_code
            office = load_workflow().office_of_area(area)
        if caller.kind != CUSTOMER and not in_supply_office_scope(caller, office):
            raise _out_of_scope(f"supply office {office}")
        return office, area

    def CreateApplication(
        self, request: expansion_service_pb2.CreateApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        caller = require_principal()
        key = IdempotentRequest.of(self.runtime, request, ignore=SENSITIVE, clock=self.clock)
        if key is not None:
            earlier = key.replay(self.runtime, lambda s, name: message(s, load_row(s, name)))
            if earlier is not None:
                return earlier
        office, area = self._place(caller, request.application)
        try:
            with self.runtime.session(write=True) as session:
                made = self._file(session, caller, request.application, office, area)
                if key is not None:
                    key.remember(session, made.name)
        except IntegrityError:
            # A concurrent retry with the same request id committed first.
            if key is None:
                raise
            again = key.replay(self.runtime, lambda s, name: message(s, load_row(s, name)))
            if again is None:
                raise
            return again
        audit_note().details = {"kind": kind_name(made.kind), "supplyOffice": office}
        return made

    def _file(
        self,
        session: Session,
        caller: identity_pb2.Principal,
        sent: resources_pb2.Application,
        office: str,
        area: str,
    ) -> resources_pb2.Application:
        row = open_application(
            session,
            self.runtime.calendar,
            self.clock.now(),
            creator=caller.user,
            sent=sent,
            office=office,
            area=area,
        )
        return message(session, row)


def open_application(
    session: Session,
    calendar: WorkingCalendar,
    now: datetime,
    *,
    creator: str,
    sent: resources_pb2.Application,
    office: str,
    area: str,
    application_id: str | None = None,
) -> ApplicationRow:
    """Add application `sent` filed by `creator` at `now` with every node of its kind,
    the first begun (flushed, not committed)."""
    kind = kind_name(sent.kind)
    purpose = sent.purpose or resources_pb2.APPLICATION_PURPOSE_NEW_CONNECTION
    row = ApplicationRow(
        id=application_id or new_id(),
        kind=kind,
        purpose=enum_name(resources_pb2.ApplicationPurpose, "APPLICATION_PURPOSE_", purpose),
        state="IN_PROGRESS",
        applicant_name=sent.applicant.name,
        applicant_id_number=sent.applicant.id_number,
        applicant_phone=sent.applicant.contact_phone,
        address=sent.address,
        area_code=area,
        capacity_kva=sent.capacity_kva,
        dual_supply=sent.dual_supply,
        customer=sent.customer,
        supply_office=office,
        creator=creator,
        create_time=now,
        update_time=now,
    )
    session.add(row)
    session.flush()
    nodes = [
        NodeRow(application_id=row.id, seq=node.sequence, kind=node.node, state="PENDING")
        for node in load_workflow().sequences[kind]
    ]
    start_node(session, row, nodes[0], now, calendar)
    session.add_all(nodes)
    record(session, row, nodes[0].kind, "FILED", creator, "", now)
    row.version = 1
    session.flush()
    return row
