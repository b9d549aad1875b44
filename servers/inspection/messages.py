"""The one seam through which inspection tells people of its tasks: assigned inspectors
of a new assignment (`task.assigned`) and a supply office's inspection managers of a
completed inspection (`inspection.completed`), handed to the notification service's
outbox (CreateMessage, as inspection's own service account).

The call is made inside the step's transaction: the step is recorded only once its
message is queued, and a notification service that cannot be reached fails the step
with UNAVAILABLE for the caller to retry. The request id is derived from the task, its
version after the step and the step, so a retry queues the message once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from servers.inspection.models import InspectionRow
from servers.inspection.resources import INSPECTIONS
from servers.inspection.upstream import call
from servers.runtime import CHINA_STANDARD_TIME, Runtime

CHANNELS = (account_pb.DELIVERY_CHANNEL_IN_APP, account_pb.DELIVERY_CHANNEL_PUSH)
_NAMESPACE = uuid.UUID("6a1f0c3e-94d2-4b7a-8e15-2c7d9b0f4e61")


def local_minute(moment: datetime) -> str:
    """An instant as people read it here: "2026-03-02 16:00" (China Standard Time)."""
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def send(
    runtime: Runtime,
    row: InspectionRow,
    step: str,
    *,
    template: str,
    users: Sequence[str],
    parameters: Mapping[str, str],
    timeout: float,
) -> None:
    """Queue `template` for `users` about task `row` having just taken `step`."""
    if not users:
        return
    name = INSPECTIONS.name(row.id)
    message = message_pb.Message(
        topic=account_pb.TOPIC_TASK,
        template=template,
        parameters=dict(parameters),
        channels=CHANNELS,
        users=list(users),
        target=name,
        event=f"{name}/{step}/{row.version}",
    )
    request_id = str(uuid.uuid5(_NAMESPACE, f"{name}/{row.version}/{step}"))
    stub = notification_grpc.NotificationServiceStub(runtime.channel("notification"))
    call(
        "the notification service",
        stub.CreateMessage,
        notification_pb.CreateMessageRequest(message=message, request_id=request_id),
        timeout=timeout,
    )
