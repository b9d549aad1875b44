"""`palm outages`: announce, list, show, change, cancel and restore outages."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

import typer
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.outage.v1 import outage_service_pb2 as pb
from palmgrid.outage.v1 import outage_service_pb2_grpc
from palmgrid.outage.v1.resources_pb2 import Outage, OutageKind, OutageState

group = typer.Typer(
    name="outages",
    help="Planned and unplanned outages of your supply offices.",
    no_args_is_help=True,
)
STUB = outage_service_pb2_grpc.OutageServiceStub


class Kind(StrEnum):
    planned = "planned"
    unplanned = "unplanned"


class State(StrEnum):
    scheduled = "scheduled"
    active = "active"
    restored = "restored"
    cancelled = "cancelled"


def _outage_call(method: str, request: Message) -> Outage:
    reply: Outage = call("outage", STUB, method, request)
    return reply


def outage_rows(outages: list[Outage]) -> list[tuple[str, ...]]:
    return [
        (
            o.name.removeprefix("outages/"),
            output.enum_label(OutageKind.Name(o.kind), "OUTAGE_KIND_"),
            output.enum_label(OutageState.Name(o.state), "OUTAGE_STATE_"),
            ",".join(o.area_codes),
            output.when(o.start_time, zone=False),
            output.when(o.end_time, zone=False)
            or output.when(o.estimated_restore_time, zone=False),
            str(o.affected_customer_count),
            o.reason,
        )
        for o in outages
    ]


def outage_panel(o: Outage) -> object:
    return output.fields(
        o.name,
        [
            ("kind", output.enum_label(OutageKind.Name(o.kind), "OUTAGE_KIND_")),
            ("state", output.enum_label(OutageState.Name(o.state), "OUTAGE_STATE_")),
            ("areas", ", ".join(o.area_codes)),
            ("area description", o.area_description),
            ("supply office", o.supply_office),
            ("start", output.when(o.start_time)),
            ("end", output.when(o.end_time)),
            ("estimated restore", output.when(o.estimated_restore_time)),
            ("restored", output.when(o.restore_time)),
            ("reason", o.reason),
            ("urgent", o.urgent_reason if o.urgent else ""),
            ("cancel reason", o.cancel_reason),
            ("restore note", o.restore_note),
            ("affected customers", o.affected_customer_count),
            ("updated", output.when(o.update_time)),
        ],
    )


Areas = Annotated[list[str], typer.Option("--area", help="an area code, e.g. A01 (repeatable)")]
Start = Annotated[str, typer.Option("--start", help="start, ISO 8601 with zone")]
End = Annotated[str, typer.Option("--end", help="planned end, ISO 8601 with zone")]
Estimate = Annotated[
    str, typer.Option("--estimated-restore", help="estimated restoration, ISO 8601 with zone")
]
Description = Annotated[str, typer.Option("--description", help="the affected streets")]


@group.command()
def announce(
    reason: Annotated[str, typer.Option("--reason", help="why the power is off")],
    area: Areas,
    start: Start,
    kind: Annotated[Kind, typer.Option("--kind")] = Kind.planned,
    end: End = "",
    estimated_restore: Estimate = "",
    description: Description = "",
    urgent: Annotated[
        str, typer.Option("--urgent", help="why a planned outage cannot wait the notice period")
    ] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Announce an outage; subscribed customers in its areas are told.

    Example: `palm outages announce --area A01 --area A02 --start 2026-12-20T09:00+08:00
    --end 2026-12-20T17:00+08:00 --reason "10 kV line maintenance"`
    """
    outage = Outage(
        kind=OutageKind.Value(f"OUTAGE_KIND_{kind.value.upper()}"),
        area_codes=area,
        area_description=description,
        start_time=output.timestamp(output.parse_time(start, "--start")),
        reason=reason,
        urgent=bool(urgent),
        urgent_reason=urgent,
    )
    if end:
        outage.end_time.CopyFrom(output.timestamp(output.parse_time(end, "--end")))
    if estimated_restore:
        moment = output.parse_time(estimated_restore, "--estimated-restore")
        outage.estimated_restore_time.CopyFrom(output.timestamp(moment))
    request = pb.CreateOutageRequest(outage=outage, request_id=str(uuid.uuid4()))
    created = _outage_call("CreateOutage", request)
    output.show(created, as_json, lambda: outage_panel(created))


@group.command("list")
def list_outages(
    area: Annotated[str, typer.Option("--area", help="only this area code")] = "",
    kind: Annotated[Kind | None, typer.Option("--kind")] = None,
    state: Annotated[
        list[State] | None, typer.Option("--state", help="only these states (repeatable)")
    ] = None,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List outages: upcoming and current unless `--state` says otherwise.

    Example: `palm outages list --area A01 --state active`
    """
    request = pb.ListOutagesRequest(
        area_code=area,
        kind=OutageKind.Value(f"OUTAGE_KIND_{kind.value.upper()}")
        if kind
        else OutageKind.OUTAGE_KIND_UNSPECIFIED,
        states=[OutageState.Value(f"OUTAGE_STATE_{s.value.upper()}") for s in state or []],
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListOutagesResponse = call("outage", STUB, "ListOutages", request)
    columns = ["outage", "kind", "state", "areas", "start", "end", "customers", "reason"]
    output.show_page(reply, as_json, "outages", columns, outage_rows(list(reply.outages)))


@group.command()
def show(
    outage: Annotated[str, typer.Argument(help="the outage, `outages/ID` or ID")],
    as_json: output.JsonFlag = False,
) -> None:
    """Show one outage.

    Example: `palm outages show 7f3c...`
    """
    found = _outage_call("GetOutage", pb.GetOutageRequest(name=output.resource("outages", outage)))
    output.show(found, as_json, lambda: outage_panel(found))


@group.command()
def change(
    outage: Annotated[str, typer.Argument(help="the outage, `outages/ID` or ID")],
    area: Annotated[
        list[str] | None, typer.Option("--area", help="the new area codes (repeatable)")
    ] = None,
    start: Start = "",
    end: End = "",
    estimated_restore: Estimate = "",
    reason: Annotated[str, typer.Option("--reason")] = "",
    description: Description = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Change an outage's times, areas, reason or description (only what is given).

    Example: `palm outages change ID --estimated-restore 2026-12-20T18:30+08:00`
    """
    changed = Outage(name=output.resource("outages", outage))
    paths: list[str] = []
    for path, text, option in (
        ("start_time", start, "--start"),
        ("end_time", end, "--end"),
        ("estimated_restore_time", estimated_restore, "--estimated-restore"),
    ):
        if text:
            getattr(changed, path).CopyFrom(output.timestamp(output.parse_time(text, option)))
            paths.append(path)
    if area:
        changed.area_codes.extend(area)
        paths.append("area_codes")
    for path, value in (("reason", reason), ("area_description", description)):
        if value:
            setattr(changed, path, value)
            paths.append(path)
    if not paths:
        raise typer.BadParameter("nothing to change: give at least one option")
    request = pb.UpdateOutageRequest(
        outage=changed, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    updated = _outage_call("UpdateOutage", request)
    output.show(updated, as_json, lambda: outage_panel(updated))


@group.command()
def cancel(
    outage: Annotated[str, typer.Argument(help="the outage, `outages/ID` or ID")],
    reason: Annotated[str, typer.Option("--reason", help="told to the customers")],
    as_json: output.JsonFlag = False,
) -> None:
    """Cancel a planned outage before it starts.

    Example: `palm outages cancel ID --reason "work postponed"`
    """
    request = pb.CancelOutageRequest(name=output.resource("outages", outage), reason=reason)
    cancelled = _outage_call("CancelOutage", request)
    output.show(cancelled, as_json, lambda: outage_panel(cancelled))


@group.command()
def restore(
    outage: Annotated[str, typer.Argument(help="the outage, `outages/ID` or ID")],
    at: Annotated[str, typer.Option("--at", help="when power returned (default now)")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Mark the power restored.

    Example: `palm outages restore ID --note "line repaired"`
    """
    request = pb.RestoreOutageRequest(name=output.resource("outages", outage), note=note)
    if at:
        request.restore_time.CopyFrom(output.timestamp(output.parse_time(at, "--at")))
    restored = _outage_call("RestoreOutage", request)
    output.show(restored, as_json, lambda: outage_panel(restored))


def register(app: typer.Typer) -> None:
    app.add_typer(group)
