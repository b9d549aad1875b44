"""Inspection tasks and findings between their rows and the `palmgrid.inspection.v1`
resources, and the names of both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.type import latlng_pb2

from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.models import AnomalyRow, FindingRow, InspectionRow
from servers.runtime.ids import Collection, resource_ids
from servers.runtime.protoconv import timestamp

INSPECTIONS = Collection("inspections")
ANOMALIES = Collection("anomalies")


def finding_name(inspection_id: str, finding_id: str) -> str:
    return f"{INSPECTIONS.name(inspection_id)}/findings/{finding_id}"


def finding_ids(name: str) -> tuple[str, str]:
    """(inspection id, finding id) of `inspections/{i}/findings/{f}`."""
    inspection_id, finding_id = resource_ids(name)
    return inspection_id, finding_id


def enum_name(enum: Any, prefix: str, value: int) -> str:
    """The stored name of an enum value: its proto name without `prefix`."""
    return str(enum.Name(value)).removeprefix(prefix)


def kind_name(value: int) -> str:
    return enum_name(resources_pb2.InspectionKind, "INSPECTION_KIND_", value)


def _enum(enum: Any, prefix: str, name: str) -> Any:
    return enum.Value(f"{prefix}{name}") if name else 0


def _notice(row: InspectionRow) -> resources_pb2.RectificationNotice | None:
    if not row.notice_number:
        return None
    return resources_pb2.RectificationNotice(
        text=row.notice_text,
        deadline=timestamp(row.notice_deadline),
        notice_number=row.notice_number,
        issue_time=timestamp(row.notice_issue_time),
    )


def _penalty(row: InspectionRow) -> resources_pb2.TheftPenalty | None:
    if row.theft_penalty is None:
        return None
    return resources_pb2.TheftPenalty.FromString(row.theft_penalty)


def inspection_resource(row: InspectionRow, assignees: Sequence[str]) -> resources_pb2.Inspection:
    return resources_pb2.Inspection(
        name=INSPECTIONS.name(row.id),
        customer=row.customer,
        kind=_enum(resources_pb2.InspectionKind, "INSPECTION_KIND_", row.kind),
        description=row.description,
        assignees=assignees,
        supply_office=row.supply_office,
        due_time=timestamp(row.due_time),
        state=_enum(resources_pb2.InspectionState, "INSPECTION_STATE_", row.state),
        anomaly=row.anomaly,
        customer_display_name=row.customer_display_name,
        customer_phone=row.customer_phone,
        address=row.address,
        finding_count=row.finding_count,
        outcome=_enum(resources_pb2.InspectionOutcome, "INSPECTION_OUTCOME_", row.outcome),
        notice=_notice(row),
        completion_note=row.completion_note,
        cancel_reason=row.cancel_reason,
        creator=row.creator,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        close_time=timestamp(row.close_time),
        checklist=[resources_pb2.CheckItem.Value(f"CHECK_ITEM_{i}") for i in row.checklist],
        theft_penalty=_penalty(row),
    )


def checked_items_of(finding: resources_pb2.Finding) -> list[dict[str, Any]]:
    return [
        {
            "item": enum_name(resources_pb2.CheckItem, "CHECK_ITEM_", checked.item),
            "result": enum_name(resources_pb2.CheckResult, "CHECK_RESULT_", checked.result),
            "note": checked.note,
        }
        for checked in finding.checked_items
    ]


def _photo(stored: dict[str, Any]) -> resources_pb2.Photo:
    captured = stored.get("capture_time")
    photo = resources_pb2.Photo(
        content_type=stored["content_type"],
        size_bytes=stored.get("size_bytes", 0),
        sha256=stored.get("sha256", ""),
        capture_time=timestamp(datetime.fromisoformat(captured) if captured else None),
    )
    if stored.get("uri"):
        photo.uri = stored["uri"]
    return photo


def finding_resource(row: FindingRow) -> resources_pb2.Finding:
    finding = resources_pb2.Finding(
        name=finding_name(row.inspection_id, row.id),
        inspector=row.inspector,
        checked_items=[
            resources_pb2.CheckedItem(
                item=resources_pb2.CheckItem.Value(f"CHECK_ITEM_{c['item']}"),
                result=resources_pb2.CheckResult.Value(f"CHECK_RESULT_{c['result']}"),
                note=c.get("note", ""),
            )
            for c in row.checked_items
        ],
        violation_kind=_enum(resources_pb2.ViolationKind, "VIOLATION_KIND_", row.violation_kind),
        seal_state=_enum(resources_pb2.SealState, "SEAL_STATE_", row.seal_state),
        photos=[_photo(p) for p in row.photos],
        location=latlng_pb2.LatLng(latitude=row.latitude, longitude=row.longitude),
        location_accuracy_meters=row.location_accuracy_meters,
        observe_time=timestamp(row.observe_time),
        note=row.note,
        witness_name=row.witness_name,
        create_time=timestamp(row.create_time),
    )
    if row.register_wh is not None:
        finding.meter_reading.CopyFrom(
            resources_pb2.MeterReading(meter_number=row.meter_number, register_wh=row.register_wh)
        )
    return finding


def anomaly_resource(row: AnomalyRow) -> resources_pb2.Anomaly:
    return resources_pb2.Anomaly(
        name=ANOMALIES.name(row.id),
        customer=row.customer,
        kind=_enum(resources_pb2.AnomalyKind, "ANOMALY_KIND_", row.kind),
        detect_time=timestamp(row.detect_time),
        source_event=row.source_event,
        meter_number=row.meter_number,
        description=row.description,
        supply_office=row.supply_office,
        state=_enum(resources_pb2.AnomalyState, "ANOMALY_STATE_", row.state),
        inspection=row.inspection,
        dismiss_reason=row.dismiss_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )
