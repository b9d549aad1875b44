"""The one seam through which the author of feedback hears of its handling: a reply and
the resolution are handed to the notification service's outbox (CreateMessage, as care's
own service account), with the templates `feedback.replied` and `feedback.resolved`.

The call is made inside the step's transaction, while the feedback row is locked: a
step is recorded only once its message is queued (the notification service then
delivers it durably), and a notification service that cannot be reached fails the step
with UNAVAILABLE for the caller to retry. The request id is derived from the feedback,
its version after the step and the action, and the message names no free text, so a
retry after a lost answer or a failed commit queues the same message once.
"""

from __future__ import annotations

import uuid

import grpc

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.care.feedback_resources import feedback_name
from servers.care.models import FeedbackRow
from servers.care.upstream import upstream_unavailable
from servers.runtime import Runtime, downstream_call_options

# Feedback action → the notification template that tells the author of it.
TEMPLATES = {"REPLIED": "feedback.replied", "RESOLVED": "feedback.resolved"}
CHANNELS = (account_pb.DELIVERY_CHANNEL_IN_APP, account_pb.DELIVERY_CHANNEL_PUSH)
_NAMESPACE = uuid.UUID("2f4c1d6e-8b3a-4e59-a7c0-5d9e1f2b3c4a")


def message_request_id(row: FeedbackRow, action: str) -> str:
    """The idempotency key of the message about `row` reaching its version by `action`."""
    return str(uuid.uuid5(_NAMESPACE, f"feedback/{row.id}/{row.version}/{action}"))


def notify_author(runtime: Runtime, row: FeedbackRow, action: str, *, timeout: float) -> None:
    """Queue the message telling `row`'s author of `action` (REPLIED or RESOLVED), which
    has just moved `row` on; Unavailable when the notification service cannot take it."""
    name = feedback_name(row.id)
    message = message_pb.Message(
        topic=account_pb.TOPIC_FEEDBACK,
        template=TEMPLATES[action],
        parameters={"feedback": row.id},
        channels=CHANNELS,
        users=[row.author],
        target=name,
        event=f"{name}/{action.lower()}/{row.version}",
    )
    stub = notification_grpc.NotificationServiceStub(runtime.channel("notification"))
    options = downstream_call_options(default_timeout=timeout)
    try:
        stub.CreateMessage(
            notification_pb.CreateMessageRequest(
                message=message, request_id=message_request_id(row, action)
            ),
            **options.kwargs(),
        )
    except grpc.RpcError as error:
        raise upstream_unavailable("the author's message cannot be queued") from error
