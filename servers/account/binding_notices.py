"""What binding a customer sends through the notification service's outbox
(CreateMessage, as the account service's own account, never the caller's): the
one-time code to the customer's registered phone, and the notice of a new binding to
the users already bound (in-app) and to the registered phone (SMS)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import grpc

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.account.bindings import customer_number
from servers.account.core import AccountCore
from servers.runtime import CHINA_STANDARD_TIME, Unavailable, downstream_call_options

CODE_TEMPLATE = "binding.code"
BOUND_TEMPLATE = "binding.created"

_NAMESPACE = uuid.UUID("6f1f3c1e-5b7a-4d38-9a53-1c0b7f2e4d10")


def send_code(core: AccountCore, *, customer: str, registered_phone: str, code: str) -> None:
    """Queue the code for SMS to the registered phone; UNAVAILABLE when it cannot be."""
    minutes = core.config.binding_code_ttl_seconds // 60
    message = message_pb.Message(
        topic=account_pb.TOPIC_ACCOUNT,
        template=CODE_TEMPLATE,
        parameters={"customer": customer_number(customer), "code": code, "minutes": str(minutes)},
        channels=[account_pb.DELIVERY_CHANNEL_SMS],
        phones=[registered_phone],
        priority=message_pb.PRIORITY_URGENT,
    )
    _create(core, message, str(uuid.uuid4()))


def tell_of_binding(
    core: AccountCore,
    *,
    user_id: str,
    customer: str,
    registered_phone: str,
    bound_users: Sequence[str],
    now: datetime,
) -> None:
    """Tell the users already bound to `customer` (in-app) and its registered phone,
    if it has one (SMS), that `user_id` bound it. Idempotent per binding (its request
    ids derive from it). UNAVAILABLE when the notices cannot be queued."""
    event = f"users/{user_id}/customerBindings/{customer_number(customer)}/{now.isoformat()}"
    parameters = {
        "customer": customer_number(customer),
        "time": now.astimezone(CHINA_STANDARD_TIME).strftime("%m月%d日%H:%M"),
    }
    recipients: list[tuple[str, message_pb.Message]] = []
    # A customer bound on staff's word may have no registered phone.
    if registered_phone:
        recipients.append(
            (
                "phone",
                message_pb.Message(
                    channels=[account_pb.DELIVERY_CHANNEL_SMS], phones=[registered_phone]
                ),
            )
        )
    if bound_users:
        recipients.append(
            (
                "users",
                message_pb.Message(
                    channels=[account_pb.DELIVERY_CHANNEL_IN_APP],
                    users=[f"users/{u}" for u in bound_users],
                ),
            )
        )
    for part, message in recipients:
        message.topic = account_pb.TOPIC_ACCOUNT
        message.template = BOUND_TEMPLATE
        message.parameters.update(parameters)
        message.priority = message_pb.PRIORITY_URGENT
        _create(core, message, str(uuid.uuid5(_NAMESPACE, f"{event}/{part}")))


def _create(core: AccountCore, message: message_pb.Message, request_id: str) -> None:
    stub = notification_grpc.NotificationServiceStub(core.runtime.channel("notification"))
    options = downstream_call_options(default_timeout=core.config.notification_timeout_seconds)
    try:
        stub.CreateMessage(
            notification_pb.CreateMessageRequest(message=message, request_id=request_id),
            **options.kwargs(),
        )
    except grpc.RpcError as error:
        raise Unavailable(
            "binding messages cannot be sent right now", retry_after=timedelta(seconds=5)
        ) from error
