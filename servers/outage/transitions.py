"""The dispatchers' state changes of OutageService: call off a planned outage, mark the
power restored. Every other move is refused with FAILED_PRECONDITION naming the state;
each accepted one is recorded with its notice (`servers.outage.changes`) and audited
(by the runtime, from the methods' options)."""

from __future__ import annotations

from typing import Any

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from servers.outage.announcing import locked_outage, save
from servers.outage.changes import record
from servers.outage.models import OutageState
from servers.outage.notice_content import NoticeEvent
from servers.outage.process import OutageProcess
from servers.outage.resources import outage_resource
from servers.outage.rules import check_restore_time, check_state
from servers.runtime import (
    Clock,
    FailedPrecondition,
    audit_note,
    require_principal,
    require_supply_office_scope,
)
from servers.runtime.etags import check_etag
from servers.runtime.protoconv import from_timestamp


class TransitionMethods:
    """CancelOutage, RestoreOutage."""

    process: OutageProcess
    clock: Clock

    def CancelOutage(
        self, request: outage_service_pb2.CancelOutageRequest, context: Any
    ) -> resources_pb2.Outage:
        principal = require_principal()
        now = self.clock.now()
        with self.process.runtime.session(write=True) as session:
            row = locked_outage(session, request.name)
            require_supply_office_scope(principal, row.supply_office)
            check_etag(request.etag, request.name, row.version)
            check_state(request.name, row.state, (OutageState.SCHEDULED,), "cancelled")
            if row.start_time <= now:
                # Started, though the clock job has not marked it ACTIVE yet.
                raise FailedPrecondition(
                    f"{request.name} has started; restore it instead",
                    metadata={"field": "state", "state": row.state},
                )
            row.state = OutageState.CANCELLED.value
            row.cancel_reason = request.reason
            save(session, row, now)
            record(session, row, "CANCELLED", now, notify=NoticeEvent.CANCELLED)
            cancelled = outage_resource(row)
        self.process.announcer.committed()
        audit_note().details = {"reason": request.reason}
        return cancelled

    def RestoreOutage(
        self, request: outage_service_pb2.RestoreOutageRequest, context: Any
    ) -> resources_pb2.Outage:
        principal = require_principal()
        now = self.clock.now()
        restored_at = (
            from_timestamp(request.restore_time) if request.HasField("restore_time") else now
        )
        with self.process.runtime.session(write=True) as session:
            row = locked_outage(session, request.name)
            require_supply_office_scope(principal, row.supply_office)
            check_etag(request.etag, request.name, row.version)
            check_state(
                request.name, row.state, (OutageState.SCHEDULED, OutageState.ACTIVE), "restored"
            )
            if row.state == OutageState.SCHEDULED and row.start_time > now:
                raise FailedPrecondition(
                    f"{request.name} has not started; cancel it instead",
                    metadata={"field": "state", "state": row.state},
                )
            check_restore_time(restored_at, row.start_time, now)
            row.state = OutageState.RESTORED.value
            row.restore_time = restored_at
            row.restore_note = request.note
            save(session, row, now)
            record(session, row, "RESTORED", now, notify=NoticeEvent.RESTORED)
            restored = outage_resource(row)
        self.process.announcer.committed()
        audit_note().details = {"restoreTime": restored_at.isoformat()}
        return restored
