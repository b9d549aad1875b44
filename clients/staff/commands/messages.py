"""`palm messages`: the notification outbox (SMS, push and in-app messages the services
sent) — whether a notice went out, to whom, and cancelling one not yet sent."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from google.protobuf.message import Message as ProtoMessage

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.account.v1.resources_pb2 import DeliveryChannel, Topic
from palmgrid.notification.v1 import notification_service_pb2 as pb
from palmgrid.notification.v1 import notification_service_pb2_grpc
from palmgrid.notification.v1.resources_pb2 import DeliveryState, Message, MessageState

group = typer.Typer(
    name="messages",
    help="The notification outbox: what was sent to whom, and its delivery.",
    no_args_is_help=True,
)
STUB = notification_service_pb2_grpc.NotificationServiceStub
MessageName = Annotated[str, typer.Argument(help="the message, `messages/ID` or ID")]


class State(StrEnum):
    pending = "pending"
    sending = "sending"
    completed = "completed"
    cancelled = "cancelled"


class TopicChoice(StrEnum):
    outage = "outage"
    bill = "bill"
    application_progress = "application-progress"
    notice = "notice"
    account = "account"
    feedback = "feedback"
    task = "task"


def _call(method: str, request: ProtoMessage) -> Any:
    return call("notification", STUB, method, request)


def state_label(m: Message) -> str:
    return output.enum_label(MessageState.Name(m.state), "MESSAGE_STATE_")


def channel_label(channel: DeliveryChannel.ValueType) -> str:
    return output.enum_label(DeliveryChannel.Name(channel), "DELIVERY_CHANNEL_")


def message_panel(m: Message) -> object:
    stats = m.stats
    return output.fields(
        m.name,
        [
            ("topic", output.enum_label(Topic.Name(m.topic), "TOPIC_")),
            ("state", state_label(m)),
            ("template", m.template),
            ("event", m.event),
            ("target", m.target),
            ("sender", m.sender),
            (
                "channels",
                ", ".join(
                    output.enum_label(DeliveryChannel.Name(c), "DELIVERY_CHANNEL_")
                    for c in m.channels
                ),
            ),
            ("customers", ", ".join(m.customers)),
            ("send at", output.when(m.send_time)),
            (
                "deliveries",
                f"{stats.total_count} in all: {stats.delivered_count} delivered, "
                f"{stats.pending_count} pending, {stats.failed_count} failed, "
                f"{stats.skipped_count} skipped, {stats.expired_count} expired",
            ),
            ("cancel reason", m.cancel_reason),
            ("created", output.when(m.create_time)),
        ],
    )


@group.command("list")
def list_messages(
    state: Annotated[State | None, typer.Option("--state")] = None,
    topic: Annotated[TopicChoice | None, typer.Option("--topic")] = None,
    sender: Annotated[str, typer.Option("--sender", help="e.g. serviceAccounts/outage")] = "",
    since: Annotated[str, typer.Option("--since", help="ISO 8601 with zone")] = "",
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List messages in the outbox, newest first.

    Example: `palm messages list --topic outage --since 2026-12-07T00:00+08:00`
    """
    request = pb.ListMessagesRequest(
        state=MessageState.Value("MESSAGE_STATE_" + state.name.upper())
        if state
        else MessageState.MESSAGE_STATE_UNSPECIFIED,
        topic=Topic.Value("TOPIC_" + topic.name.upper()) if topic else Topic.TOPIC_UNSPECIFIED,
        sender=sender,
        page_size=limit,
        page_token=page_token,
    )
    if since:
        request.start_time.CopyFrom(output.timestamp(output.parse_time(since, "--since")))
    reply: pb.ListMessagesResponse = _call("ListMessages", request)
    rows = [
        (
            m.name.removeprefix("messages/"),
            output.when(m.create_time, zone=False),
            output.enum_label(Topic.Name(m.topic), "TOPIC_"),
            state_label(m),
            m.target,
            f"{m.stats.delivered_count}/{m.stats.total_count}",
        )
        for m in reply.messages
    ]
    columns = ["message", "created", "topic", "state", "about", "delivered"]
    output.show_page(reply, as_json, "messages", columns, rows)


@group.command()
def show(message: MessageName, as_json: output.JsonFlag = False) -> None:
    """Show one message and how its deliveries went.

    Example: `palm messages show 91ab...`
    """
    name = output.resource("messages", message)
    found: Message = _call("GetMessage", pb.GetMessageRequest(name=name))
    output.show(found, as_json, lambda: message_panel(found))


@group.command()
def deliveries(
    message: MessageName,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List a message's deliveries: each recipient, channel, state and error.

    Example: `palm messages deliveries 91ab...`
    """
    request = pb.ListDeliveriesRequest(
        parent=output.resource("messages", message), page_size=limit, page_token=page_token
    )
    reply: pb.ListDeliveriesResponse = _call("ListDeliveries", request)
    rows = [
        (
            d.name.rpartition("/")[2],
            d.user or d.phone,
            d.customer,
            channel_label(d.channel),
            output.enum_label(DeliveryState.Name(d.state), "DELIVERY_STATE_"),
            d.attempt_count,
            output.when(d.deliver_time, zone=False),
            d.error,
        )
        for d in reply.deliveries
    ]
    columns = ["delivery", "recipient", "customer", "channel", "state", "tries", "sent", "error"]
    output.show_page(reply, as_json, "deliveries", columns, rows)


@group.command()
def cancel(
    message: MessageName,
    reason: Annotated[str, typer.Option("--reason")],
    as_json: output.JsonFlag = False,
) -> None:
    """Cancel a message's deliveries not yet made.

    Example: `palm messages cancel 91ab... --reason "sent by mistake"`
    """
    request = pb.CancelMessageRequest(name=output.resource("messages", message), reason=reason)
    reply: pb.CancelMessageResponse = _call("CancelMessage", request)
    output.show(reply, as_json, lambda: message_panel(reply.message))


def register(app: typer.Typer) -> None:
    app.add_typer(group)
