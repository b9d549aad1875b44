"""The dispatchers' writes of OutageService: announce an outage and change it.

Access (`outage.outages.*`) and auditing come from the methods' declared options; these
methods check the supply-office scope, the rules (`servers.outage.rules`), the etag, and
record each change with its notice in the same transaction (`servers.outage.changes`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from palmgrid.type.v1.identity_pb2 import Principal
from servers.outage.changes import record
from servers.outage.models import OutageKind, OutageRow, OutageState
from servers.outage.notice_content import NoticeEvent
from servers.outage.process import OutageProcess
from servers.outage.resources import UPDATABLE, kind_name, outage_id, outage_resource
from servers.outage.rules import Plan, check_plan, check_state
from servers.runtime import (
    Aborted,
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    audit_note,
    in_supply_office_scope,
    require_principal,
    require_supply_office_scope,
)
from servers.runtime.etags import check_etag
from servers.runtime.ids import new_id
from servers.runtime.protoconv import from_timestamp
from servers.runtime.update_masks import fields_to_update


def _time(outage: resources_pb2.Outage, field: str) -> datetime | None:
    return from_timestamp(getattr(outage, field)) if outage.HasField(field) else None  # type: ignore[arg-type]


def _office(principal: Principal, asked: str) -> str:
    """The supply office of a new outage: the one asked for, else the caller's only one."""
    if asked:
        return asked
    if len(principal.supply_offices) == 1:
        return str(principal.supply_offices[0])
    raise InvalidArgument(
        "outage.supply_office is required: the caller covers several supply offices",
        field_violations=[FieldViolation("outage.supplyOffice", "is required")],
    )


def _plan(row: OutageRow) -> Plan:
    return Plan(
        row.kind,
        row.start_time,
        row.end_time,
        row.estimated_restore_time,
        row.urgent,
        row.urgent_reason,
    )


def locked_outage(session: Session, name: str) -> OutageRow:
    """The outage `name`, locked for update; NotFound when there is none."""
    row = session.get(OutageRow, outage_id(name), with_for_update=True)
    if row is None:
        raise NotFound(f"{name} not found")
    return row


def save(session: Session, row: OutageRow, now: datetime) -> None:
    """Store a change to `row`: a new version, changed at `now`."""
    row.version += 1
    row.update_time = now
    session.add(row)


class AnnouncingMethods:
    """CreateOutage, UpdateOutage."""

    process: OutageProcess
    clock: Clock

    def CreateOutage(
        self, request: outage_service_pb2.CreateOutageRequest, context: Any
    ) -> resources_pb2.Outage:
        principal = require_principal()
        wanted = request.outage
        office = _office(principal, wanted.supply_office)
        require_supply_office_scope(principal, office)
        now = self.clock.now()
        start = from_timestamp(wanted.start_time)
        plan = Plan(
            kind_name(wanted.kind),
            start,
            _time(wanted, "end_time"),
            _time(wanted, "estimated_restore_time"),
            wanted.urgent,
            wanted.urgent_reason,
        )
        check_plan(plan, now, self.process.notice_period.current(), earliest=None)
        digest = hashlib.sha256(wanted.SerializeToString(deterministic=True)).hexdigest()
        with self.process.runtime.session() as session:
            earlier = self._by_request(session, principal.user, request.request_id)
        if earlier is not None:
            return self._repeat(earlier, digest)
        count = self._customers_in_scope(principal, wanted.area_codes)
        started = plan.kind == OutageKind.UNPLANNED or start <= now
        row = OutageRow(
            id=new_id(),
            kind=plan.kind,
            state=(OutageState.ACTIVE if started else OutageState.SCHEDULED).value,
            area_codes=sorted(wanted.area_codes),
            area_description=wanted.area_description,
            start_time=start,
            end_time=plan.end_time,
            estimated_restore_time=plan.estimated_restore_time,
            reason=wanted.reason,
            supply_office=office,
            urgent=wanted.urgent,
            urgent_reason=wanted.urgent_reason if wanted.urgent else "",
            affected_customer_count=count,
            creator=principal.user,
            request_id=request.request_id,
            request_hash=digest,
            create_time=now,
            update_time=now,
        )
        try:
            with self.process.runtime.session(write=True) as session:
                session.add(row)
                record(session, row, "ANNOUNCED", now, notify=NoticeEvent.ANNOUNCED)
                created = outage_resource(row)
        except IntegrityError:
            # The same request, sent twice at once, was stored by the other call.
            with self.process.runtime.session() as session:
                earlier = self._by_request(session, principal.user, request.request_id)
            if earlier is None:
                raise
            return self._repeat(earlier, digest)
        self.process.announcer.committed()
        audit_note().details = {"areas": ",".join(row.area_codes), "urgent": str(row.urgent)}
        return created

    def _customers_in_scope(self, principal: Principal, area_codes: Sequence[str]) -> int:
        """How many customers these areas have; OUT_OF_SCOPE (naming the areas) when any
        has customers of a supply office outside the caller's. The outage's own
        supply_office is the caller's word; the customers' offices are billing's."""
        survey = self.process.customers.survey(
            area_codes, with_offices=not principal.all_supply_offices
        )
        foreign = sorted(
            area
            for area, offices in survey.offices_by_area.items()
            if not all(in_supply_office_scope(principal, office) for office in offices)
        )
        if foreign:
            raise PermissionDenied(
                f"outage.areaCodes {', '.join(foreign)} supply customers outside the "
                "caller's supply offices",
                reason="OUT_OF_SCOPE",
                metadata={"areaCodes": ",".join(foreign)},
            )
        return survey.customer_count

    def _by_request(self, session: Session, creator: str, request_id: str) -> OutageRow | None:
        return session.exec(
            select(OutageRow).where(
                OutageRow.creator == creator, OutageRow.request_id == request_id
            )
        ).first()

    def _repeat(self, earlier: OutageRow, digest: str) -> resources_pb2.Outage:
        if earlier.request_hash != digest:
            raise Aborted(
                "request_id was used for another outage",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"requestId": earlier.request_id or ""},
            )
        return outage_resource(earlier)

    def UpdateOutage(
        self, request: outage_service_pb2.UpdateOutageRequest, context: Any
    ) -> resources_pb2.Outage:
        principal = require_principal()
        change = request.outage
        fields = fields_to_update(request.update_mask, change, UPDATABLE)
        now = self.clock.now()
        notice = self.process.notice_period.current()
        count: int | None = None
        if "area_codes" in fields:
            count = self._customers_in_scope(principal, change.area_codes)
        with self.process.runtime.session(write=True) as session:
            row = locked_outage(session, change.name)
            require_supply_office_scope(principal, row.supply_office)
            check_etag(change.etag, change.name, row.version)
            check_state(
                change.name, row.state, (OutageState.SCHEDULED, OutageState.ACTIVE), "changed"
            )
            before_areas = list(row.area_codes)
            before_start = row.start_time
            self._apply(row, change, fields)
            if row.state == OutageState.ACTIVE and row.start_time != before_start:
                raise InvalidArgument(
                    "the outage has started: its start_time cannot change",
                    field_violations=[
                        FieldViolation("outage.startTime", "cannot change once started")
                    ],
                )
            check_plan(_plan(row), now, notice, earliest=before_start)
            if count is not None:
                row.affected_customer_count = count
            if row.remind_time is not None and row.start_time > before_start:
                row.remind_time = None  # moved later: remind again before the new start
            save(session, row, now)
            record(session, row, "UPDATED", now, notify=NoticeEvent.UPDATED, areas=before_areas)
            updated = outage_resource(row)
        self.process.announcer.committed()
        audit_note().details = {"fields": ",".join(sorted(fields))}
        return updated

    @staticmethod
    def _apply(row: OutageRow, change: resources_pb2.Outage, fields: list[str]) -> None:
        for field in fields:
            if field == "area_codes":
                if not change.area_codes:
                    raise InvalidArgument(
                        "an outage needs at least one area code",
                        field_violations=[FieldViolation("outage.areaCodes", "must not be empty")],
                    )
                row.area_codes = sorted(change.area_codes)
            elif field == "start_time":
                if not change.HasField("start_time"):
                    raise InvalidArgument(
                        "start_time cannot be cleared",
                        field_violations=[FieldViolation("outage.startTime", "is required")],
                    )
                row.start_time = from_timestamp(change.start_time)
            elif field in ("end_time", "estimated_restore_time"):
                setattr(row, field, _time(change, field))
            elif field == "reason":
                if not change.reason.strip():
                    raise InvalidArgument(
                        "reason cannot be cleared",
                        field_violations=[FieldViolation("outage.reason", "is required")],
                    )
                row.reason = change.reason
            else:
                setattr(row, field, getattr(change, field))
        if not row.urgent:
            row.urgent_reason = ""
