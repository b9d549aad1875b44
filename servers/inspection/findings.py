"""CreateFinding: what an assigned inspector observed on site, uploaded when there is
signal. A `request_id` makes the upload idempotent per inspector: a phone that uploads
a finding recorded offline, loses the answer and uploads it again gets the finding
recorded first, and nothing is stored twice (`servers.runtime.idempotency`).

The first finding moves the task to INSPECTION_STATE_IN_PROGRESS. Findings are
evidence: never changed once recorded.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from palmgrid.inspection.v1 import inspection_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.inspection.models import FindingRow, InspectionRow, InspectionState
from servers.inspection.photos import check_photos, store_photo
from servers.inspection.resources import (
    INSPECTIONS,
    checked_items_of,
    enum_name,
    finding_ids,
    finding_name,
    finding_resource,
)
from servers.inspection.store import load_task
from servers.inspection.tasks import require_open
from servers.inspection.visibility import require_sees
from servers.runtime import Clock, NotFound, PermissionDenied, Runtime, require_principal
from servers.runtime.idempotency import IdempotentRequest, create_once
from servers.runtime.ids import new_id
from servers.runtime.protoconv import from_timestamp


def require_assigned(
    caller: identity_pb2.Principal, row: InspectionRow, assignees: list[str]
) -> None:
    """PERMISSION_DENIED unless `caller` is one of the task's assigned inspectors."""
    if caller.user not in assignees:
        raise PermissionDenied(f"only an inspector assigned to inspections/{row.id} may do this")


def _finding_row(
    inspection_id: str,
    inspector: str,
    sent: resources_pb2.Finding,
    photos: list[dict[str, Any]],
    now: Any,
) -> FindingRow:
    reading = sent.meter_reading if sent.HasField("meter_reading") else None
    return FindingRow(
        id=new_id(),
        inspection_id=inspection_id,
        inspector=inspector,
        checked_items=checked_items_of(sent),
        meter_number=reading.meter_number if reading else "",
        register_wh=reading.register_wh if reading else None,
        seal_state=enum_name(resources_pb2.SealState, "SEAL_STATE_", sent.seal_state)
        if sent.seal_state
        else "",
        violation_kind=enum_name(
            resources_pb2.ViolationKind, "VIOLATION_KIND_", sent.violation_kind
        ),
        photos=photos,
        latitude=sent.location.latitude,
        longitude=sent.location.longitude,
        location_accuracy_meters=sent.location_accuracy_meters,
        observe_time=from_timestamp(sent.observe_time),
        note=sent.note,
        witness_name=sent.witness_name,
        create_time=now,
    )


class FindingMethods:
    """CreateFinding."""

    runtime: Runtime
    clock: Clock

    def CreateFinding(
        self, request: inspection_service_pb2.CreateFindingRequest, context: Any
    ) -> resources_pb2.Finding:
        caller = require_principal()
        key = IdempotentRequest.of(self.runtime, request, clock=self.clock)
        if key is not None:
            earlier = key.replay(self.runtime, _load)
            if earlier is not None:
                return earlier
        inspection_id = INSPECTIONS.id(request.parent)
        with self.runtime.session() as session:
            row, assignees = load_task(session, inspection_id)
        require_sees(caller, row, assignees)
        require_assigned(caller, row, assignees)
        require_open(row)
        check_photos(request.finding.photos, "finding.photos")

        def create(session: Session) -> tuple[str, resources_pb2.Finding]:
            task, assigned = load_task(session, inspection_id, for_update=True)
            require_open(task)
            require_assigned(caller, task, assigned)
            now = self.clock.now()
            photos = [store_photo(session, p, now) for p in request.finding.photos]
            finding = _finding_row(inspection_id, caller.user, request.finding, photos, now)
            session.add(finding)
            task.finding_count += 1
            task.state = InspectionState.IN_PROGRESS.value
            task.version += 1
            task.update_time = now
            session.add(task)
            session.flush()
            made = finding_resource(finding)
            return made.name, made

        return create_once(self.runtime, request, create=create, load=_load, clock=self.clock)


def _load(session: Session, name: str) -> resources_pb2.Finding:
    inspection_id, finding_id = finding_ids(name)
    found = session.get(FindingRow, finding_id)
    if found is None or found.inspection_id != inspection_id:
        raise NotFound(f"{finding_name(inspection_id, finding_id)} not found")
    return finding_resource(found)
