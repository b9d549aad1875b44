"""`palm audit`: who did what (the audit log), and the check of its hash chain."""

from __future__ import annotations

from typing import Annotated

import typer

from clients.staff import output
from clients.staff.admin import admin_call
from clients.staff.errors import CONFLICT
from clients.staff.lookup import user_name
from palmgrid.account.v1 import account_admin_service_system_requests_pb2 as system_pb

group = typer.Typer(
    name="audit", help="The audit log of every change, and its hash chain.", no_args_is_help=True
)


@group.command()
def query(
    actor: Annotated[str, typer.Option("--actor", help="a username or `users/ID`")] = "",
    action: Annotated[
        str, typer.Option("--action", help="a method, e.g. palmgrid.outage.v1.OutageService/")
    ] = "",
    resource: Annotated[str, typer.Option("--resource", help="e.g. outages/ID")] = "",
    since: Annotated[str, typer.Option("--since", help="ISO 8601 with zone")] = "",
    until: Annotated[str, typer.Option("--until", help="ISO 8601 with zone")] = "",
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Query the audit log, newest first.

    Example: `palm audit query --actor dispatcher --since 2026-12-07T00:00+08:00`
    """
    request = system_pb.ListAuditRecordsRequest(
        actor=user_name(actor) if actor and "/" not in actor else actor,
        action=action,
        resource=resource,
        page_size=limit,
        page_token=page_token,
    )
    if since:
        request.start_time.CopyFrom(output.timestamp(output.parse_time(since, "--since")))
    if until:
        request.end_time.CopyFrom(output.timestamp(output.parse_time(until, "--until")))
    reply: system_pb.ListAuditRecordsResponse = admin_call("ListAuditRecords", request)
    rows = [
        (
            r.sequence,
            output.when(r.event_time, zone=False),
            r.actor_username or r.actor,
            r.action.rpartition("/")[2],
            r.resource,
            r.error_reason or "OK",
        )
        for r in reply.audit_records
    ]
    columns = ["#", "time", "actor", "action", "resource", "outcome"]
    output.show_page(reply, as_json, "audit log", columns, rows)


@group.command()
def verify(
    start: Annotated[int, typer.Option("--from", help="first record (default the first)")] = 0,
    end: Annotated[int, typer.Option("--to", help="last record (default the newest)")] = 0,
    as_json: output.JsonFlag = False,
) -> None:
    """Check the hash chain of the audit log; exits 6 when a record was altered.

    Example: `palm audit verify`
    """
    request = system_pb.VerifyAuditChainRequest(start_sequence=start, end_sequence=end)
    reply: system_pb.VerifyAuditChainResponse = admin_call("VerifyAuditChain", request)

    def render() -> object:
        return output.fields(
            "audit chain " + ("[green]intact[/]" if reply.valid else "[red]BROKEN[/]"),
            [
                ("records", f"{reply.start_sequence} to {reply.end_sequence}"),
                ("checked", reply.verified_count),
                ("head hash", reply.head_hash.hex()),
                ("first bad record", reply.first_invalid_record),
                ("problem", reply.problem),
            ],
        )

    output.show(reply, as_json, render)
    if not reply.valid:
        raise typer.Exit(CONFLICT)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
