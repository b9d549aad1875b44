"""`palm inspections`: on-site inspection tasks: create, assign, list (`--mine`), show
with the findings, record a finding with photos from files, complete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.message import Message
from google.type import decimal_pb2, latlng_pb2
from rich.console import Group

from clients.staff import output
from clients.staff.lookup import exact_user_name
from clients.staff.rpc import call
from palmgrid.inspection.v1 import inspection_service_pb2 as pb
from palmgrid.inspection.v1 import inspection_service_pb2_grpc
from palmgrid.inspection.v1.resources_pb2 import (
    CheckedItem,
    CheckItem,
    CheckResult,
    Finding,
    Inspection,
    InspectionKind,
    InspectionOutcome,
    InspectionState,
    MeterReading,
    Photo,
    RectificationNotice,
    SealState,
    TheftAssessment,
    UseCategory,
    ViolationKind,
)

group = typer.Typer(
    name="inspections",
    help="On-site inspection tasks of your supply offices, their findings and outcomes.",
    no_args_is_help=True,
)
STUB = inspection_service_pb2_grpc.InspectionServiceStub
InspectionName = Annotated[str, typer.Argument(help="the task, `inspections/ID` or ID")]
Assignees = Annotated[
    list[str],
    typer.Option(
        "--assignee",
        help="an inspector: users/ID, me, or a username where you may list users"
        " (repeatable, two at least)",
    ),
]
# The media type of a photo by its file's suffix; the service checks the bytes.
PHOTO_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".heic": "image/heic",
}


class Kind(StrEnum):
    periodic = "periodic"
    special = "special"
    anomaly = "anomaly"


class State(StrEnum):
    pending = "pending"
    in_progress = "in-progress"
    completed = "completed"
    cancelled = "cancelled"


class Outcome(StrEnum):
    no_issue = "no-issue"
    rectification_required = "rectification-required"
    violation_confirmed = "violation-confirmed"
    no_access = "no-access"


class Violation(StrEnum):
    none = "none"
    electricity_theft = "electricity-theft"
    unauthorized_capacity_increase = "unauthorized-capacity-increase"
    meter_tampering = "meter-tampering"
    safety_hazard = "safety-hazard"
    unauthorized_tariff_category = "unauthorized-tariff-category"
    unauthorized_resale = "unauthorized-resale"
    unauthorized_generation = "unauthorized-generation"
    other = "other"


class Seal(StrEnum):
    intact = "intact"
    broken = "broken"
    missing = "missing"
    mismatched = "mismatched"


class Use(StrEnum):
    lighting = "lighting"
    power = "power"


def _inspection_call(method: str, request: Message) -> Inspection:
    reply: Inspection = call("inspection", STUB, method, request)
    return reply


def _name(value: str) -> str:
    return output.resource("inspections", value)


def _assignees(values: list[str]) -> list[str]:
    return [exact_user_name(value) for value in values]


def kind_label(kind: InspectionKind.ValueType) -> str:
    return output.enum_label(InspectionKind.Name(kind), "INSPECTION_KIND_")


def state_label(state: InspectionState.ValueType) -> str:
    return output.enum_label(InspectionState.Name(state), "INSPECTION_STATE_")


def item_label(item: CheckItem.ValueType) -> str:
    return output.enum_label(CheckItem.Name(item), "CHECK_ITEM_")


def checked_text(f: Finding) -> str:
    return ", ".join(
        f"{item_label(c.item)}: " + output.enum_label(CheckResult.Name(c.result), "CHECK_RESULT_")
        for c in f.checked_items
    )


def inspection_panel(i: Inspection, findings: list[Finding] | None = None) -> object:
    panel = output.fields(
        i.name,
        [
            ("kind", kind_label(i.kind)),
            ("state", state_label(i.state)),
            ("customer", i.customer),
            ("customer name", i.customer_display_name),
            ("phone", i.customer_phone),
            ("address", i.address),
            ("supply office", i.supply_office),
            ("assignees", ", ".join(a.removeprefix("users/") for a in i.assignees)),
            ("due", output.when(i.due_time)),
            ("description", i.description),
            ("anomaly", i.anomaly),
            ("checklist", ", ".join(item_label(item) for item in i.checklist)),
            ("findings", i.finding_count),
            (
                "outcome",
                output.enum_label(InspectionOutcome.Name(i.outcome), "INSPECTION_OUTCOME_")
                if i.outcome
                else "",
            ),
            ("notice", f"{i.notice.notice_number} {i.notice.text}".strip()),
            ("notice deadline", output.when(i.notice.deadline)),
            (
                "penalty total",
                output.yuan(i.theft_penalty.total_fen) if i.theft_penalty.lines else "",
            ),
            ("completion note", i.completion_note),
            ("cancel reason", i.cancel_reason),
            ("closed", output.when(i.close_time)),
        ],
    )
    if findings is None:
        return panel
    rows = [
        (
            f.name.rsplit("/", 1)[-1],
            output.when(f.observe_time, zone=False),
            f.inspector.removeprefix("users/"),
            output.enum_label(ViolationKind.Name(f.violation_kind), "VIOLATION_KIND_"),
            checked_text(f),
            str(len(f.photos)),
            f.note,
        )
        for f in findings
    ]
    columns = ["finding", "observed", "inspector", "violation", "checked", "photos", "note"]
    return Group(panel, output.table("findings", columns, rows))


def finding_panel(f: Finding) -> object:
    return output.fields(
        f.name,
        [
            ("inspector", f.inspector),
            ("observed", output.when(f.observe_time)),
            (
                "violation",
                output.enum_label(ViolationKind.Name(f.violation_kind), "VIOLATION_KIND_"),
            ),
            ("checked", checked_text(f)),
            ("seal", output.enum_label(SealState.Name(f.seal_state), "SEAL_STATE_")),
            (
                "meter",
                f"{f.meter_reading.meter_number} {output.kwh(f.meter_reading.register_wh)}"
                if f.HasField("meter_reading")
                else "",
            ),
            ("photos", "\n".join(f"{p.sha256} ({p.size_bytes} bytes)" for p in f.photos)),
            ("note", f.note),
        ],
    )


@group.command()
def create(
    customer: Annotated[str, typer.Option("--customer", help="the customer (户号)")],
    kind: Annotated[Kind, typer.Option("--kind")],
    due: Annotated[str, typer.Option("--due", help="visit by, ISO 8601 with zone")],
    assignee: Assignees,
    description: Annotated[str, typer.Option("--description", help="what to look at")] = "",
    anomaly: Annotated[
        str, typer.Option("--anomaly", help="the metering anomaly behind an anomaly task")
    ] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Create an inspection task for two inspectors at least; they are told.

    Example: `palm inspections create --customer 3100000001 --kind special
    --due 2027-01-10T17:00+08:00 --assignee me --assignee users/ID --description "专项检查"`
    """
    task = Inspection(
        customer=output.resource("customers", customer),
        kind=InspectionKind.Value("INSPECTION_KIND_" + kind.name.upper()),
        due_time=output.timestamp(output.parse_time(due, "--due")),
        assignees=_assignees(assignee),
        description=description,
        anomaly=output.resource("anomalies", anomaly) if anomaly else "",
    )
    request = pb.CreateInspectionRequest(inspection=task, request_id=str(uuid.uuid4()))
    created = _inspection_call("CreateInspection", request)
    output.show(created, as_json, lambda: inspection_panel(created))


@group.command()
def assign(
    inspection: InspectionName,
    assignee: Assignees,
    note: Annotated[str, typer.Option("--note", help="why, for the inspectors")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Assign an open task to other inspectors (replacing the current ones).

    Example: `palm inspections assign demo-special-1 --assignee users/ID1 --assignee users/ID2`
    """
    request = pb.AssignInspectionRequest(
        name=_name(inspection), assignees=_assignees(assignee), note=note
    )
    assigned = _inspection_call("AssignInspection", request)
    output.show(assigned, as_json, lambda: inspection_panel(assigned))


@group.command("list")
def list_inspections(
    mine: Annotated[bool, typer.Option("--mine", help="only tasks assigned to me")] = False,
    office: Annotated[str, typer.Option("--office", help="only this supply office")] = "",
    customer: Annotated[str, typer.Option("--customer", help="only this customer (户号)")] = "",
    kind: Annotated[Kind | None, typer.Option("--kind")] = None,
    state: Annotated[State | None, typer.Option("--state")] = None,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List inspection tasks in your scope, soonest due first.

    Example: `palm inspections list --mine --state pending`
    """
    request = pb.ListInspectionsRequest(
        assignee="users/me" if mine else "",
        supply_office=office,
        customer=output.resource("customers", customer) if customer else "",
        kind=InspectionKind.Value("INSPECTION_KIND_" + kind.name.upper())
        if kind
        else InspectionKind.INSPECTION_KIND_UNSPECIFIED,
        state=InspectionState.Value("INSPECTION_STATE_" + state.name.upper())
        if state
        else InspectionState.INSPECTION_STATE_UNSPECIFIED,
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListInspectionsResponse = call("inspection", STUB, "ListInspections", request)
    rows = [
        (
            i.name.removeprefix("inspections/"),
            kind_label(i.kind),
            state_label(i.state),
            output.when(i.due_time, zone=False),
            i.customer.removeprefix("customers/"),
            ", ".join(a.removeprefix("users/") for a in i.assignees),
            str(i.finding_count),
            i.description,
        )
        for i in reply.inspections
    ]
    columns = ["inspection", "kind", "state", "due", "customer", "assignees", "findings", "what"]
    output.show_page(reply, as_json, "inspections", columns, rows)


@group.command()
def show(inspection: InspectionName, as_json: output.JsonFlag = False) -> None:
    """Show one task with its findings (`--json`: the task as the service answers).

    Example: `palm inspections show demo-periodic-1`
    """
    found = _inspection_call("GetInspection", pb.GetInspectionRequest(name=_name(inspection)))
    request = pb.ListFindingsRequest(parent=found.name, page_size=1000)
    findings = [] if as_json else list(call("inspection", STUB, "ListFindings", request).findings)
    output.show(found, as_json, lambda: inspection_panel(found, findings))


def checked_item(text: str) -> CheckedItem:
    """`meter-seal=pass` (or `=fail:why`, `=n/a`) as a CheckedItem."""
    item, _, outcome = text.partition("=")
    result, _, note = outcome.partition(":")
    results = {"pass": "PASS", "fail": "FAIL", "n/a": "NOT_APPLICABLE"}
    names = CheckItem.keys()
    wanted = "CHECK_ITEM_" + item.strip().upper().replace("-", "_")
    if wanted not in names or result not in results:
        choices = ", ".join(
            output.enum_label(n, "CHECK_ITEM_").replace(" ", "-") for n in names[1:]
        )
        raise typer.BadParameter(
            f"{text!r} is not ITEM=pass|fail[:note]|n/a; items: {choices}", param_hint="--check"
        )
    return CheckedItem(
        item=CheckItem.Value(wanted),
        result=CheckResult.Value("CHECK_RESULT_" + results[result]),
        note=note,
    )


def photo(path: Path) -> Photo:
    content_type = PHOTO_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise typer.BadParameter(
            f"{path} is not a photo: {', '.join(PHOTO_TYPES)}", param_hint="--photo"
        )
    return Photo(content_type=content_type, data=path.read_bytes())


def location(text: str) -> latlng_pb2.LatLng:
    latitude, _, longitude = text.partition(",")
    try:
        return latlng_pb2.LatLng(latitude=float(latitude), longitude=float(longitude))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not LAT,LON", param_hint="--at") from None


@group.command()
def finding(
    inspection: InspectionName,
    check: Annotated[
        list[str],
        typer.Option("--check", help="ITEM=pass, ITEM=fail:why or ITEM=n/a (repeatable)"),
    ],
    at: Annotated[str, typer.Option("--at", help="where you are, LAT,LON from the GPS")],
    violation: Annotated[Violation, typer.Option("--violation")] = Violation.none,
    photos: Annotated[
        list[Path] | None,
        typer.Option(
            "--photo",
            exists=True,
            dir_okay=False,
            help="a JPEG, PNG, WebP or HEIC file (repeatable)",
        ),
    ] = None,
    meter: Annotated[str, typer.Option("--meter", help="the meter's number")] = "",
    reading_kwh: Annotated[
        float | None, typer.Option("--reading-kwh", min=0, help="its register, kWh")
    ] = None,
    seal: Annotated[Seal | None, typer.Option("--seal")] = None,
    observed: Annotated[
        str, typer.Option("--observed", help="when, ISO 8601 with zone (default now)")
    ] = "",
    witness: Annotated[str, typer.Option("--witness", help="who was present")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    request_id: Annotated[
        str, typer.Option("--request-id", help="a UUID4, to retry an upload without a duplicate")
    ] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Record what you found on site, with photos from files.

    Example: `palm inspections finding demo-periodic-1 --check meter-seal=fail:铅封断裂
    --check meter-box=pass --violation meter-tampering --seal broken --photo seal.jpg
    --at 25.49,103.79`
    """
    moment = output.parse_time(observed, "--observed") if observed else datetime.now(UTC)
    found = Finding(
        checked_items=[checked_item(text) for text in check],
        violation_kind=ViolationKind.Value("VIOLATION_KIND_" + violation.name.upper()),
        photos=[photo(path) for path in photos or []],
        observe_time=output.timestamp(moment),
        location=location(at),
        note=note,
        witness_name=witness,
        seal_state=SealState.Value("SEAL_STATE_" + seal.name.upper())
        if seal
        else SealState.SEAL_STATE_UNSPECIFIED,
    )
    if meter or reading_kwh is not None:
        found.meter_reading.CopyFrom(
            MeterReading(meter_number=meter, register_wh=round((reading_kwh or 0) * 1000))
        )
    request = pb.CreateFindingRequest(
        parent=_name(inspection), finding=found, request_id=request_id or str(uuid.uuid4())
    )
    recorded: Finding = call("inspection", STUB, "CreateFinding", request)
    output.show(recorded, as_json, lambda: finding_panel(recorded))


@group.command()
def complete(
    inspection: InspectionName,
    outcome: Annotated[Outcome, typer.Option("--outcome")],
    notice: Annotated[
        str, typer.Option("--notice", help="what the customer must put right (the notice)")
    ] = "",
    notice_deadline: Annotated[
        str, typer.Option("--notice-deadline", help="by when, ISO 8601 with zone")
    ] = "",
    note: Annotated[str, typer.Option("--note", help="your closing summary")] = "",
    theft_use: Annotated[
        Use | None, typer.Option("--theft-use", help="for theft: lighting or power user")
    ] = None,
    theft_watts: Annotated[
        int, typer.Option("--theft-watts", min=0, help="for theft: capacity connected, W")
    ] = 0,
    theft_days: Annotated[
        int, typer.Option("--theft-days", min=0, help="for theft: days, 0 when unknown")
    ] = 0,
    theft_price: Annotated[
        str, typer.Option("--theft-price", help="for theft: yuan per kWh, e.g. 0.5283")
    ] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Complete a task with its outcome; a notice for rectification or a violation, and
    for confirmed theft what the penalty is reckoned from.

    Example: `palm inspections complete demo-periodic-1 --outcome rectification-required
    --notice "更换表箱锁" --notice-deadline 2027-01-20T17:00+08:00`
    """
    request = pb.CompleteInspectionRequest(
        name=_name(inspection),
        outcome=InspectionOutcome.Value("INSPECTION_OUTCOME_" + outcome.name.upper()),
        note=note,
    )
    if notice or notice_deadline:
        request.notice.CopyFrom(RectificationNotice(text=notice))
        if notice_deadline:
            moment = output.parse_time(notice_deadline, "--notice-deadline")
            request.notice.deadline.CopyFrom(output.timestamp(moment))
    if theft_use:
        request.theft_assessment.CopyFrom(
            TheftAssessment(
                use_category=UseCategory.Value("USE_CATEGORY_" + theft_use.name.upper()),
                connected_capacity_watts=theft_watts,
                period_days=theft_days,
                unit_price=decimal_pb2.Decimal(value=theft_price),
            )
        )
    completed = _inspection_call("CompleteInspection", request)
    output.show(completed, as_json, lambda: inspection_panel(completed))


def register(app: typer.Typer) -> None:
    app.add_typer(group)
