"""`palm feedback`: the care agents' queue of complaints, reports and inquiries, and
their handling (assign, reply, resolve, close)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from google.protobuf.message import Message
from rich.console import Group

from clients.staff import output
from clients.staff.commands.risks import level_label
from clients.staff.lookup import user_name
from clients.staff.rpc import call
from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.care.v1.resources_pb2 import Feedback, FeedbackAction, FeedbackKind, FeedbackState

group = typer.Typer(
    name="feedback",
    help="Complaints, reports, suggestions, praise and inquiries, and their handling.",
    no_args_is_help=True,
)
STUB = care_service_pb2_grpc.CareServiceStub
FeedbackName = Annotated[str, typer.Argument(help="the feedback, `feedback/ID` or ID")]


class State(StrEnum):
    submitted = "submitted"
    accepted = "accepted"
    in_progress = "in-progress"
    resolved = "resolved"
    closed = "closed"


def _feedback_call(method: str, request: Message) -> Feedback:
    reply: Feedback = call("care", STUB, method, request)
    return reply


def kind_label(feedback: Feedback) -> str:
    return output.enum_label(FeedbackKind.Name(feedback.kind), "FEEDBACK_KIND_")


def state_label(feedback: Feedback) -> str:
    return output.enum_label(FeedbackState.Name(feedback.state), "FEEDBACK_STATE_")


def feedback_panel(f: Feedback) -> object:
    panel = output.fields(
        f.name,
        [
            ("kind", kind_label(f)),
            ("state", state_label(f)),
            ("customer", f.customer),
            ("supply office", f.supply_office),
            ("assignee", f.assignee),
            ("due", output.when(f.due_time)),
            ("contact", f"{f.contact_name} {f.contact_phone}".strip()),
            ("address", f.address),
            ("content", f.content),
            ("resolution", f.resolution),
            ("rating", f.rating or ""),
            ("submitted", output.when(f.create_time)),
        ],
    )
    history = output.table(
        "history",
        ["time", "action", "by", "text"],
        [
            (
                output.when(event.create_time, zone=False),
                output.enum_label(FeedbackAction.Name(event.action), "FEEDBACK_ACTION_"),
                event.actor_display_name or event.actor,
                event.text,
            )
            for event in f.history
        ],
    )
    return Group(panel, history)


@group.command()
def queue(
    office: Annotated[str, typer.Option("--office", help="only this supply office")] = "",
    mine: Annotated[bool, typer.Option("--mine", help="only what is assigned to me")] = False,
    state: Annotated[State | None, typer.Option("--state")] = None,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """The work list: open feedback first, that of high-risk customers first within it,
    then by due time (overdue and about to breach first).

    Example: `palm feedback queue --mine`
    """
    request = pb.ListFeedbackRequest(
        supply_office=office,
        assignee="users/me" if mine else "",
        state=FeedbackState.Value("FEEDBACK_STATE_" + state.name.upper())
        if state
        else FeedbackState.FEEDBACK_STATE_UNSPECIFIED,
        order_by="priority",
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListFeedbackResponse = call("care", STUB, "ListFeedback", request)
    risks = {} if as_json else customer_risks({f.customer for f in reply.feedback})
    rows = [
        (
            f.name.removeprefix("feedback/"),
            risks.get(f.customer, ""),
            kind_label(f),
            state_label(f),
            output.when(f.due_time, zone=False),
            f.customer.removeprefix("customers/"),
            f.assignee.removeprefix("users/"),
            f.content[:40],
        )
        for f in reply.feedback
    ]
    columns = ["feedback", "risk", "kind", "state", "due", "customer", "assignee", "content"]
    output.show_page(reply, as_json, "feedback queue", columns, rows)


def customer_risks(customers: set[str]) -> dict[str, str]:
    """The complaint-risk level of each of these customers that has a score (the queue
    puts those at high risk first; the column says why)."""
    levels = {}
    for customer in sorted(c for c in customers if c):
        request = pb.ListComplaintRisksRequest(subject=customer, page_size=1)
        scores = call("care", STUB, "ListComplaintRisks", request).complaint_risks
        if scores:
            levels[customer] = level_label(scores[0])
    return levels


@group.command()
def show(feedback: FeedbackName, as_json: output.JsonFlag = False) -> None:
    """Show one piece of feedback with its handling history.

    Example: `palm feedback show 5a1e...`
    """
    found = _feedback_call("GetFeedback", pb.GetFeedbackRequest(name=_name(feedback)))
    output.show(found, as_json, lambda: feedback_panel(found))


@group.command()
def assign(
    feedback: FeedbackName,
    to: Annotated[str, typer.Option("--to", help="a care agent: username, users/ID or me")],
    office: Annotated[str, typer.Option("--office", help="transfer to this office")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Assign feedback to a care agent (and transfer it to another office).

    Example: `palm feedback assign ID --to agent --note "call the customer today"`
    """
    request = pb.AssignFeedbackRequest(
        name=_name(feedback), assignee=user_name(to), supply_office=office, note=note
    )
    assigned = _feedback_call("AssignFeedback", request)
    output.show(assigned, as_json, lambda: feedback_panel(assigned))


@group.command()
def reply(
    feedback: FeedbackName,
    text: Annotated[str, typer.Argument(help="what the customer reads")],
    as_json: output.JsonFlag = False,
) -> None:
    """Reply to the author.

    Example: `palm feedback reply ID "维修人员将于今天下午到达"`
    """
    answered = _feedback_call(
        "ReplyFeedback", pb.ReplyFeedbackRequest(name=_name(feedback), text=text)
    )
    output.show(answered, as_json, lambda: feedback_panel(answered))


@group.command()
def resolve(
    feedback: FeedbackName,
    resolution: Annotated[str, typer.Option("--resolution", help="what was done")],
    as_json: output.JsonFlag = False,
) -> None:
    """Mark feedback resolved; the author may rate it.

    Example: `palm feedback resolve ID --resolution "meter replaced"`
    """
    request = pb.ResolveFeedbackRequest(name=_name(feedback), resolution=resolution)
    resolved = _feedback_call("ResolveFeedback", request)
    output.show(resolved, as_json, lambda: feedback_panel(resolved))


@group.command()
def close(
    feedback: FeedbackName,
    reason: Annotated[str, typer.Option("--reason")] = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Close feedback.

    Example: `palm feedback close ID --reason "duplicate of 5a1e..."`
    """
    closed = _feedback_call(
        "CloseFeedback", pb.CloseFeedbackRequest(name=_name(feedback), reason=reason)
    )
    output.show(closed, as_json, lambda: feedback_panel(closed))


def _name(value: str) -> str:
    return output.resource("feedback", value)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
