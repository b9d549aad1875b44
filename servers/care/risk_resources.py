"""Complaint-risk scores between their rows and the `palmgrid.care.v1.ComplaintRisk`
resource."""

from __future__ import annotations

from typing import Any

from palmgrid.care.v1 import resources_pb2
from servers.care.models import ComplaintRiskRow
from servers.care.risk_model import Reason
from servers.runtime.ids import Collection
from servers.runtime.protoconv import timestamp

COMPLAINT_RISKS = Collection("complaintRisks")
OFFICE_PREFIX = "supplyOffices/"

risk_name = COMPLAINT_RISKS.name
risk_id = COMPLAINT_RISKS.id


def office_subject(office: str) -> str:
    """The subject naming a supply office: `supplyOffices/{office}`."""
    return OFFICE_PREFIX + office


def reason_kind_name(value: int) -> str:
    """The stored name of a RiskReasonKind value ("BILL_SPIKE")."""
    return resources_pb2.RiskReasonKind.Name(value).removeprefix("RISK_REASON_KIND_")  # type: ignore[arg-type]


def stored_reason(reason: resources_pb2.RiskReason) -> dict[str, Any]:
    """A reason as sent to RecordComplaintRisk, as stored."""
    return Reason(
        reason_kind_name(reason.kind), reason.points, reason.description, dict(reason.figures)
    ).stored()


def _reason(stored: dict[str, Any]) -> resources_pb2.RiskReason:
    return resources_pb2.RiskReason(
        kind=resources_pb2.RiskReasonKind.Value(f"RISK_REASON_KIND_{stored['kind']}"),
        points=stored["points"],
        description=stored.get("description", ""),
        figures=stored.get("figures", {}),
    )


def risk_resource(row: ComplaintRiskRow) -> resources_pb2.ComplaintRisk:
    """The ComplaintRisk of a row."""
    return resources_pb2.ComplaintRisk(
        name=risk_name(row.id),
        subject=row.subject,
        customer=row.customer,
        score=row.score,
        level=resources_pb2.RiskLevel.Value(f"RISK_LEVEL_{row.level}"),
        reasons=[_reason(r) for r in row.reasons],
        model_version=row.model_version,
        compute_time=timestamp(row.compute_time),
        supply_office=row.supply_office,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )
