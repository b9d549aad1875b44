"""CompleteInspection: an assigned inspector closes an open task with its outcome.

- Unless the inspectors could not get access, the task needs a finding and every item
  of its kind's checklist checked in some finding (FAILED_PRECONDITION naming the
  missing items otherwise).
- A rectification notice goes with the outcomes that call for one (the request rules);
  the server numbers and dates it.
- When theft is confirmed (the outcome VIOLATION_CONFIRMED and a finding of electricity
  theft) the request carries the theft assessment and the penalty is reckoned by the
  rule (`servers.inspection.penalty`); an assessment is refused anywhere else.
- The customer's supply office (its inspection managers) is told through the
  notification outbox, in the completing transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from palmgrid.inspection.v1 import inspection_service_pb2, resources_pb2
from servers.inspection.config import InspectionConfig
from servers.inspection.findings import require_assigned
from servers.inspection.messages import local_minute, send
from servers.inspection.models import FindingRow, InspectionRow, InspectionState
from servers.inspection.penalty import FIELD as ASSESSMENT_FIELD
from servers.inspection.penalty import reckon
from servers.inspection.resources import INSPECTIONS, enum_name, inspection_resource
from servers.inspection.staff import Staff
from servers.inspection.store import load_task
from servers.inspection.tasks import require_open
from servers.inspection.visibility import require_sees
from servers.runtime import (
    CHINA_STANDARD_TIME,
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Runtime,
    audit_note,
    require_principal,
)
from servers.runtime.protoconv import from_timestamp

COMPLETED_TEMPLATE = "inspection.completed"
NO_ACCESS = "NO_ACCESS"
VIOLATION_CONFIRMED = "VIOLATION_CONFIRMED"
THEFT = "ELECTRICITY_THEFT"
# How the office reads each outcome.
OUTCOME_TEXT = {
    "NO_ISSUE": "未发现问题",
    "RECTIFICATION_REQUIRED": "需限期整改",
    "VIOLATION_CONFIRMED": "确认违约用电或窃电",
    "NO_ACCESS": "未能进入现场",
}


def _findings(session: Session, inspection_id: str) -> list[FindingRow]:
    query = select(FindingRow).where(col(FindingRow.inspection_id) == inspection_id)
    return list(session.exec(query))


def _require_checked(row: InspectionRow, findings: list[FindingRow], outcome: str) -> None:
    if outcome == NO_ACCESS:
        return
    if not findings:
        raise FailedPrecondition(
            f"inspections/{row.id} has no finding yet; record one before completing it"
        )
    checked = {item["item"] for finding in findings for item in finding.checked_items}
    missing = [item for item in row.checklist if item not in checked]
    if missing:
        raise FailedPrecondition(
            f"the checklist is not done: {', '.join(missing)} not checked in any finding",
            metadata={"missingItems": ",".join(missing)},
        )


def _penalty(
    request: inspection_service_pb2.CompleteInspectionRequest,
    outcome: str,
    findings: list[FindingRow],
) -> resources_pb2.TheftPenalty | None:
    """The theft penalty when theft is confirmed; refuses a missing or stray assessment."""
    theft = outcome == VIOLATION_CONFIRMED and any(f.violation_kind == THEFT for f in findings)
    given = request.HasField("theft_assessment")
    if theft and not given:
        why = "required when theft is confirmed: the penalty is reckoned from it"
    elif given and not theft:
        why = "allowed only when the outcome confirms a finding of electricity theft"
    else:
        return reckon(request.theft_assessment) if given else None
    raise InvalidArgument(
        f"{ASSESSMENT_FIELD}: {why}", field_violations=[FieldViolation(ASSESSMENT_FIELD, why)]
    )


def _notice_number(row: InspectionRow, issued: datetime) -> str:
    """The notice's document number: JC, the local issue date, the task id."""
    return f"JC{issued.astimezone(CHINA_STANDARD_TIME):%Y%m%d}-{row.id[:8].upper()}"


def _detail(row: InspectionRow) -> str:
    if row.theft_penalty is not None:
        penalty = resources_pb2.TheftPenalty.FromString(row.theft_penalty)
        return f"应追补电费及违约使用电费合计{penalty.total_fen}分。"
    if row.notice_number and row.notice_deadline is not None:
        deadline = local_minute(row.notice_deadline)
        return f"已发出整改通知书{row.notice_number}，整改期限{deadline}。"
    return ""


class CompletionMethods:
    """CompleteInspection."""

    runtime: Runtime
    clock: Clock
    config: InspectionConfig
    staff: Staff

    def CompleteInspection(
        self, request: inspection_service_pb2.CompleteInspectionRequest, context: Any
    ) -> resources_pb2.Inspection:
        caller = require_principal()
        inspection_id = INSPECTIONS.id(request.name)
        outcome = enum_name(resources_pb2.InspectionOutcome, "INSPECTION_OUTCOME_", request.outcome)
        with self.runtime.session() as session:
            row, assignees = load_task(session, inspection_id)
            require_sees(caller, row, assignees)
            require_assigned(caller, row, assignees)
            require_open(row)
            findings = _findings(session, inspection_id)
        _require_checked(row, findings, outcome)
        penalty = _penalty(request, outcome, findings)
        managers = self.staff.managers_of(row.supply_office)
        with self.runtime.session(write=True) as session:
            row, assignees = load_task(session, inspection_id, for_update=True)
            require_open(row)
            now = self.clock.now()
            row.state = InspectionState.COMPLETED.value
            row.outcome = outcome
            row.completion_note = request.note
            if request.HasField("notice"):
                row.notice_text = request.notice.text
                row.notice_deadline = from_timestamp(request.notice.deadline)
                row.notice_number = _notice_number(row, now)
                row.notice_issue_time = now
            row.theft_penalty = penalty.SerializeToString() if penalty is not None else None
            row.close_time = now
            row.update_time = now
            row.version += 1
            session.add(row)
            session.flush()
            send(
                self.runtime,
                row,
                "completed",
                template=COMPLETED_TEMPLATE,
                users=managers,
                parameters={
                    "task": INSPECTIONS.name(row.id),
                    "customer": row.customer.removeprefix("customers/"),
                    "outcome": OUTCOME_TEXT[outcome],
                    "detail": _detail(row),
                },
                timeout=self.config.upstream_timeout_seconds,
            )
            details = {"outcome": outcome, "officeManagers": str(len(managers))}
            if penalty is not None:
                details["penaltyTotalFen"] = str(penalty.total_fen)
            audit_note().details = details
            return inspection_resource(row, assignees)
