"""Metering anomalies: RecordAnomaly (the metering system's push, through ingest),
ListAnomalies, GetAnomaly and DismissAnomaly, and claiming an open anomaly for the
anomaly inspection made for it.

An anomaly belongs to its customer's supply office (from billing's archive) and is seen
by staff of that office. Recording is idempotent on the metering system's event id: the
same event again returns the anomaly recorded first. An open anomaly is either
dismissed with a reason or claimed by one inspection task (then TASKED); both are final.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from palmgrid.inspection.v1 import inspection_service_pb2, resources_pb2
from servers.inspection.customers import CustomerArchive
from servers.inspection.models import AnomalyRow, AnomalyState
from servers.inspection.resources import ANOMALIES, anomaly_resource, enum_name
from servers.runtime import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Runtime,
    audit_note,
    paging,
    require_principal,
    require_supply_office_scope,
    supply_office_condition,
)
from servers.runtime.ids import new_id
from servers.runtime.protoconv import from_timestamp

ORDER = (col(AnomalyRow.create_time), col(AnomalyRow.id))


def _by_event(session: Session, source_event: str) -> AnomalyRow | None:
    query = select(AnomalyRow).where(col(AnomalyRow.source_event) == source_event)
    return session.exec(query).first()


def _require_open(row: AnomalyRow) -> None:
    if row.state != AnomalyState.OPEN.value:
        raise FailedPrecondition(
            f"anomalies/{row.id} is {row.state.lower()}, no longer open",
            metadata={"state": row.state},
        )


def claim(session: Session, name: str, customer: str, inspection: str, now: Any) -> None:
    """Mark open anomaly `name` TASKED by `inspection`, in the creating transaction;
    INVALID_ARGUMENT naming `inspection.anomaly` when it is unknown or of another
    customer, FAILED_PRECONDITION when it is no longer open."""
    row = session.get(AnomalyRow, ANOMALIES.id(name), with_for_update=True)
    if row is None or row.customer != customer:
        why = "no such anomaly" if row is None else f"an anomaly of {row.customer}"
        raise InvalidArgument(
            f"{name}: {why}", field_violations=[FieldViolation("inspection.anomaly", why)]
        )
    _require_open(row)
    row.state = AnomalyState.TASKED.value
    row.inspection = inspection
    row.version += 1
    row.update_time = now
    session.add(row)


class AnomalyMethods:
    """RecordAnomaly, ListAnomalies, GetAnomaly, DismissAnomaly."""

    runtime: Runtime
    clock: Clock
    archive: CustomerArchive

    def RecordAnomaly(
        self, request: inspection_service_pb2.RecordAnomalyRequest, context: Any
    ) -> resources_pb2.Anomaly:
        sent = request.anomaly
        with self.runtime.session() as session:
            earlier = _by_event(session, sent.source_event)
            if earlier is not None:
                return anomaly_resource(earlier)
        customer = self.archive.customer(sent.customer, "anomaly.customer")
        now = self.clock.now()
        row = AnomalyRow(
            id=new_id(),
            customer=sent.customer,
            kind=enum_name(resources_pb2.AnomalyKind, "ANOMALY_KIND_", sent.kind),
            detect_time=from_timestamp(sent.detect_time),
            source_event=sent.source_event,
            meter_number=sent.meter_number,
            description=sent.description,
            supply_office=customer.supply_office,
            state=AnomalyState.OPEN.value,
            create_time=now,
            update_time=now,
        )
        try:
            with self.runtime.session(write=True) as session:
                session.add(row)
                session.flush()
                return anomaly_resource(row)
        except IntegrityError:
            # The same event recorded at the same moment by another call: its row.
            with self.runtime.session() as session:
                earlier = _by_event(session, sent.source_event)
                if earlier is None:
                    raise
                return anomaly_resource(earlier)

    def ListAnomalies(
        self, request: inspection_service_pb2.ListAnomaliesRequest, context: Any
    ) -> inspection_service_pb2.ListAnomaliesResponse:
        caller = require_principal()
        state = request.state or resources_pb2.ANOMALY_STATE_OPEN
        filters = [request.supply_office, request.customer, request.kind, state]
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        query = select(AnomalyRow).where(
            supply_office_condition(caller, request.supply_office, AnomalyRow.supply_office),
            col(AnomalyRow.state) == enum_name(resources_pb2.AnomalyState, "ANOMALY_STATE_", state),
        )
        if request.customer:
            query = query.where(col(AnomalyRow.customer) == request.customer)
        if request.kind:
            kind = enum_name(resources_pb2.AnomalyKind, "ANOMALY_KIND_", request.kind)
            query = query.where(col(AnomalyRow.kind) == kind)
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(ORDER, key))
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            rows = list(session.exec(query.order_by(*(c.desc() for c in ORDER)).limit(size + 1)))
        token = paging.next_page_token(
            rows, size, lambda row: [paging.time_key(row.create_time), row.id], filters
        )
        return inspection_service_pb2.ListAnomaliesResponse(
            anomalies=[anomaly_resource(row) for row in rows[:size]], next_page_token=token
        )

    def GetAnomaly(
        self, request: inspection_service_pb2.GetAnomalyRequest, context: Any
    ) -> resources_pb2.Anomaly:
        caller = require_principal()
        with self.runtime.session() as session:
            row = session.get(AnomalyRow, ANOMALIES.id(request.name))
        if row is None:
            raise NotFound(f"{request.name} not found")
        require_supply_office_scope(caller, row.supply_office)
        return anomaly_resource(row)

    def DismissAnomaly(
        self, request: inspection_service_pb2.DismissAnomalyRequest, context: Any
    ) -> resources_pb2.Anomaly:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = session.get(AnomalyRow, ANOMALIES.id(request.name), with_for_update=True)
            if row is None:
                raise NotFound(f"{request.name} not found")
            require_supply_office_scope(caller, row.supply_office)
            _require_open(row)
            row.state = AnomalyState.DISMISSED.value
            row.dismiss_reason = request.reason
            row.version += 1
            row.update_time = self.clock.now()
            session.add(row)
            session.flush()
            audit_note().details = {"reason": request.reason}
            return anomaly_resource(row)
