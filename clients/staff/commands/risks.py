"""`palm risks`: complaint-risk scores of customers and supply offices, highest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Group

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.care.v1.resources_pb2 import ComplaintRisk, RiskLevel, RiskReasonKind

group = typer.Typer(
    name="risks", help="Complaint-risk scores per supply office and customer.", no_args_is_help=True
)
STUB = care_service_pb2_grpc.CareServiceStub
LEVEL_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def level_label(risk: ComplaintRisk) -> str:
    label = output.enum_label(RiskLevel.Name(risk.level), "RISK_LEVEL_")
    return f"[{LEVEL_STYLES.get(label, '')}]{label}[/]" if label in LEVEL_STYLES else label


def reasons_text(risk: ComplaintRisk) -> str:
    return "; ".join(
        reason.description
        or output.enum_label(RiskReasonKind.Name(reason.kind), "RISK_REASON_KIND_")
        for reason in risk.reasons
    )


@group.command("list")
def list_risks(
    office: Annotated[str, typer.Option("--office", help="only this supply office")] = "",
    customer: Annotated[str, typer.Option("--customer", help="only this customer (户号)")] = "",
    min_score: Annotated[int, typer.Option("--min-score", min=0, max=100)] = 0,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List complaint-risk scores in your scope.

    Example: `palm risks list --office QJ-QL --min-score 60`
    """
    request = pb.ListComplaintRisksRequest(
        supply_office=office,
        subject=output.resource("customers", customer) if customer else "",
        min_score=min_score,
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListComplaintRisksResponse = call("care", STUB, "ListComplaintRisks", request)
    rows = [
        (
            r.name.removeprefix("complaintRisks/"),
            r.subject,
            r.score,
            level_label(r),
            r.supply_office,
            output.when(r.compute_time, zone=False),
            reasons_text(r),
        )
        for r in reply.complaint_risks
    ]
    columns = ["risk", "subject", "score", "level", "office", "computed", "reasons"]
    output.show_page(reply, as_json, "complaint risks", columns, rows)


@group.command()
def show(
    risk: Annotated[str, typer.Argument(help="the score, `complaintRisks/ID` or ID")],
    as_json: output.JsonFlag = False,
) -> None:
    """Show one score with each reason and its figures.

    Example: `palm risks show 0c9d...`
    """
    name = output.resource("complaintRisks", risk)
    found: ComplaintRisk = call(
        "care", STUB, "GetComplaintRisk", pb.GetComplaintRiskRequest(name=name)
    )

    def render() -> object:
        panel = output.fields(
            found.name,
            [
                ("subject", found.subject),
                ("score", found.score),
                ("level", level_label(found)),
                ("supply office", found.supply_office),
                ("model", found.model_version),
                ("computed", output.when(found.compute_time)),
            ],
        )
        reasons = output.table(
            "reasons",
            ["reason", "points", "figures", "description"],
            [
                (
                    output.enum_label(RiskReasonKind.Name(r.kind), "RISK_REASON_KIND_"),
                    r.points,
                    ", ".join(f"{k}={v:g}" for k, v in sorted(r.figures.items())),
                    r.description,
                )
                for r in found.reasons
            ],
        )
        return Group(panel, reasons)

    output.show(found, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
