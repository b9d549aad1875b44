"""`palm applications`: connection applications (业扩报装) of your supply offices, node by
node: list (the overdue ones), show as a timeline, advance, return for missing
documents, resume, reject, and the node time limits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from google.protobuf.message import Message
from rich.console import Group

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.expansion.v1 import expansion_service_pb2 as pb
from palmgrid.expansion.v1 import expansion_service_pb2_grpc
from palmgrid.expansion.v1.resources_pb2 import (
    Application,
    ApplicationAction,
    ApplicationKind,
    ApplicationState,
    Node,
    NodeKind,
    NodeState,
    NodeTimeLimit,
)

group = typer.Typer(
    name="applications",
    help="Connection applications (业扩报装) of your supply offices and their workflow nodes.",
    no_args_is_help=True,
)
STUB = expansion_service_pb2_grpc.ExpansionServiceStub
ApplicationName = Annotated[str, typer.Argument(help="the application, `applications/ID` or ID")]
# How each node state is marked on the timeline.
NODE_MARKS = {
    NodeState.NODE_STATE_COMPLETED: "●",
    NodeState.NODE_STATE_IN_PROGRESS: "▶",
    NodeState.NODE_STATE_WAITING_ON_CUSTOMER: "⏸",
    NodeState.NODE_STATE_PENDING: "○",
    NodeState.NODE_STATE_REJECTED: "✗",
    NodeState.NODE_STATE_CANCELLED: "-",
}


class Kind(StrEnum):
    low_voltage_residential = "low-voltage-residential"
    low_voltage_business = "low-voltage-business"
    high_voltage = "high-voltage"


class State(StrEnum):
    in_progress = "in-progress"
    completed = "completed"
    rejected = "rejected"


class NodeChoice(StrEnum):
    acceptance = "acceptance"
    survey = "survey"
    supply_plan = "supply-plan"
    design_review = "design-review"
    construction = "construction"
    mid_inspection = "mid-inspection"
    completion_inspection = "completion-inspection"
    connection = "connection"


def _application_call(method: str, request: Message) -> Application:
    reply: Application = call("expansion", STUB, method, request)
    return reply


def _name(value: str) -> str:
    return output.resource("applications", value)


def _kind(kind: Kind | None) -> ApplicationKind.ValueType:
    if kind is None:
        return ApplicationKind.APPLICATION_KIND_UNSPECIFIED
    return ApplicationKind.Value("APPLICATION_KIND_" + kind.name.upper())


def kind_label(kind: ApplicationKind.ValueType) -> str:
    return output.enum_label(ApplicationKind.Name(kind), "APPLICATION_KIND_")


def node_label(kind: NodeKind.ValueType) -> str:
    return output.enum_label(NodeKind.Name(kind), "NODE_KIND_")


def current_node(a: Application) -> Node | None:
    """The current node, whose due time is the one staff work to; None once closed."""
    return next((n for n in a.nodes if n.kind == a.current_node and a.current_node), None)


def application_rows(applications: list[Application]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for a in applications:
        node = current_node(a)
        rows.append(
            (
                a.name.removeprefix("applications/"),
                kind_label(a.kind),
                output.enum_label(ApplicationState.Name(a.state), "APPLICATION_STATE_"),
                node_label(a.current_node) if a.current_node else "",
                output.enum_label(NodeState.Name(node.state), "NODE_STATE_") if node else "",
                output.when(node.due_time, zone=False) if node else "",
                a.supply_office,
                a.applicant.name,
                a.address,
            )
        )
    return rows


def application_panel(a: Application) -> object:
    panel = output.fields(
        a.name,
        [
            ("kind", kind_label(a.kind)),
            ("state", output.enum_label(ApplicationState.Name(a.state), "APPLICATION_STATE_")),
            ("current node", node_label(a.current_node) if a.current_node else ""),
            ("supply office", a.supply_office),
            ("applicant", f"{a.applicant.name} {a.applicant.contact_phone}".strip()),
            ("address", a.address),
            ("area", a.area_code),
            ("capacity", f"{a.capacity_kva} kVA"),
            ("dual supply", "yes" if a.dual_supply else ""),
            ("customer", a.customer),
            ("reject reason", a.reject_reason),
            ("filed", output.when(a.create_time)),
            ("closed", output.when(a.complete_time)),
        ],
    )
    timeline = output.table(
        "nodes",
        ["", "node", "state", "started", "due", "done", "handler", "note"],
        [
            (
                NODE_MARKS.get(n.state, ""),
                node_label(n.kind),
                output.enum_label(NodeState.Name(n.state), "NODE_STATE_"),
                output.when(n.start_time, zone=False),
                output.when(n.due_time, zone=False),
                output.when(n.complete_time, zone=False),
                n.handler.removeprefix("users/"),
                n.note,
            )
            for n in a.nodes
        ],
    )
    history = output.table(
        "history",
        ["time", "action", "node", "by", "note"],
        [
            (
                output.when(event.time, zone=False),
                output.enum_label(ApplicationAction.Name(event.action), "APPLICATION_ACTION_"),
                node_label(event.node) if event.node else "",
                event.actor.removeprefix("users/"),
                event.note,
            )
            for event in a.history
        ],
    )
    return Group(panel, timeline, history)


Office = Annotated[str, typer.Option("--office", help="only this supply office, e.g. QJ-QL")]
Mine = Annotated[bool, typer.Option("--mine", help="only those whose current node I handle")]
COLUMNS = [
    "application",
    "kind",
    "state",
    "node",
    "node state",
    "due",
    "office",
    "applicant",
    "address",
]


@group.command("list")
def list_applications(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="only those whose current node is overdue")
    ] = False,
    office: Office = "",
    mine: Mine = False,
    kind: Annotated[Kind | None, typer.Option("--kind")] = None,
    state: Annotated[State | None, typer.Option("--state")] = None,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List applications, newest first; with `--overdue`, those whose current node is
    past its due time, the earliest due first.

    Example: `palm applications list --overdue --office QJ-QL`
    """
    handler = "users/me" if mine else ""
    reply: pb.ListApplicationsResponse | pb.ListDueApplicationsResponse
    if overdue:
        if kind or state:
            raise typer.BadParameter("--overdue lists in-progress applications of every kind")
        due = pb.ListDueApplicationsRequest(
            overdue_only=True,
            supply_office=office,
            handler=handler,
            page_size=limit,
            page_token=page_token,
        )
        reply = call("expansion", STUB, "ListDueApplications", due)
        title = "overdue applications"
    else:
        request = pb.ListApplicationsRequest(
            kind=_kind(kind),
            state=ApplicationState.Value("APPLICATION_STATE_" + state.name.upper())
            if state
            else ApplicationState.APPLICATION_STATE_UNSPECIFIED,
            supply_office=office,
            handler=handler,
            page_size=limit,
            page_token=page_token,
        )
        reply = call("expansion", STUB, "ListApplications", request)
        title = "applications"
    rows = application_rows(list(reply.applications))
    output.show_page(reply, as_json, title, COLUMNS, rows)


@group.command()
def show(application: ApplicationName, as_json: output.JsonFlag = False) -> None:
    """Show one application: its nodes as a timeline and its history.

    Example: `palm applications show demo-hv-design`
    """
    found = _application_call("GetApplication", pb.GetApplicationRequest(name=_name(application)))
    output.show(found, as_json, lambda: application_panel(found))


@group.command()
def advance(
    application: ApplicationName,
    note: Annotated[str, typer.Option("--note", help="what was done, shown to the applicant")],
    node: Annotated[
        NodeChoice | None,
        typer.Option("--node", help="the node you mean to complete: refused if it is not current"),
    ] = None,
    as_json: output.JsonFlag = False,
) -> None:
    """Complete the current node; the next begins (or the application is connected).

    Example: `palm applications advance demo-residential-new --node acceptance --note "资料齐全"`
    """
    request = pb.AdvanceApplicationRequest(
        name=_name(application),
        note=note,
        node=NodeKind.Value("NODE_KIND_" + node.name.upper())
        if node
        else NodeKind.NODE_KIND_UNSPECIFIED,
    )
    advanced = _application_call("AdvanceApplication", request)
    output.show(advanced, as_json, lambda: application_panel(advanced))


@group.command("return")
def return_application(
    application: ApplicationName,
    missing: Annotated[
        str, typer.Option("--missing", help="the documents the applicant must supply")
    ],
    as_json: output.JsonFlag = False,
) -> None:
    """Send the current node back to the applicant for missing documents; its clock
    stops until it is resumed.

    Example: `palm applications return demo-business-plan --missing "营业执照复印件"`
    """
    request = pb.SendBackApplicationRequest(name=_name(application), reason=missing)
    returned = _application_call("SendBackApplication", request)
    output.show(returned, as_json, lambda: application_panel(returned))


@group.command()
def resume(
    application: ApplicationName,
    note: Annotated[str, typer.Option("--note", help="what was supplied")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Resume a node returned to the applicant once the documents are in; its due time
    moves on by the time waited.

    Example: `palm applications resume demo-hv-design --note "图纸已补交"`
    """
    request = pb.ResumeApplicationRequest(name=_name(application), note=note)
    resumed = _application_call("ResumeApplication", request)
    output.show(resumed, as_json, lambda: application_panel(resumed))


@group.command()
def reject(
    application: ApplicationName,
    reason: Annotated[str, typer.Option("--reason", help="shown to the applicant")],
    as_json: output.JsonFlag = False,
) -> None:
    """Reject an application at its current node.

    Example: `palm applications reject ID --reason "该地址不具备接入条件"`
    """
    request = pb.RejectApplicationRequest(name=_name(application), reason=reason)
    rejected = _application_call("RejectApplication", request)
    output.show(rejected, as_json, lambda: application_panel(rejected))


def limit_text(limit: NodeTimeLimit) -> str:
    if limit.working_days:
        return f"{limit.working_days} working days"
    return f"{limit.time_limit.ToTimedelta()}" if limit.HasField("time_limit") else ""


@group.command("time-limits")
def time_limits(
    kind: Annotated[Kind | None, typer.Option("--kind", help="only this kind's workflow")] = None,
    as_json: output.JsonFlag = False,
) -> None:
    """The workflow table: each kind's nodes in order with their time limits.

    Example: `palm applications time-limits --kind high-voltage`
    """
    request = pb.ListNodeTimeLimitsRequest(
        application_kind=_kind(kind),
        page_size=1000,
    )
    reply: pb.ListNodeTimeLimitsResponse = call("expansion", STUB, "ListNodeTimeLimits", request)
    rows = [
        (
            limit.name.removeprefix("nodeTimeLimits/"),
            kind_label(limit.application_kind),
            str(limit.sequence),
            node_label(limit.node_kind),
            limit_text(limit),
            f"{limit.dual_supply_working_days} working days"
            if limit.dual_supply_working_days
            else "",
            str(limit.reminder_lead_time.ToTimedelta()),
        )
        for limit in reply.node_time_limits
    ]
    columns = ["limit", "kind", "#", "node", "limit", "dual supply", "reminder lead"]
    output.show_page(reply, as_json, "node time limits", columns, rows, timed=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
