"""The alert outbox: messages for the notification service, written in the transaction
of the event they report and delivered afterwards, with retries.

A message row commits (or not) with its event, so no alert is lost when the
notification service is down and none is sent for an event that rolled back. The
delivery loop (`deliver_due`, run by the payment jobs) calls the notification
service's CreateMessage with a request id derived from the event, so a message
delivered twice (a crash after sending, before marking it sent) is created once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
import sqlalchemy as sa
from sqlmodel import Session, select

from palmgrid.account.v1 import resources_pb2 as account_pb2
from palmgrid.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from palmgrid.notification.v1 import resources_pb2 as notification_pb2
from servers.billing.payments.models import OutboxMessage
from servers.runtime import Runtime, downstream_call_options

log = logging.getLogger("palmgrid.payments.outbox")

PENDING = "PENDING"
SENT = "SENT"
# Request ids are UUIDs derived from the event, so they are the same on every retry.
_NAMESPACE = uuid.UUID("6f1d2a4e-3b1c-4c5e-9a57-0c2d8e4b7f10")
_CLAIM = timedelta(seconds=60)
_MAX_BACKOFF = timedelta(hours=1)
_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]


def enqueue(
    session: Session,
    *,
    event: str,
    customer_id: str,
    template: str,
    parameters: Mapping[str, str],
    target: str = "",
    now: datetime,
) -> OutboxMessage | None:
    """Add a message for `event` (a unique description such as
    "billing.low_balance/<ledger entry id>") in the caller's transaction; None when that
    event's message is already queued."""
    request_id = str(uuid.uuid5(_NAMESPACE, event))
    exists = session.exec(
        select(OutboxMessage.id).where(OutboxMessage.request_id == request_id)
    ).first()
    if exists is not None:
        return None
    message = OutboxMessage(
        request_id=request_id,
        customer_id=customer_id,
        template=template,
        parameters=json.dumps(dict(parameters), ensure_ascii=False, sort_keys=True),
        target=target,
        next_attempt_time=now,
        create_time=now,
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class DeliveryResult:
    sent: int
    failed: int


def deliver_due(runtime: Runtime, *, now: datetime, limit: int = 50) -> DeliveryResult:
    """Send up to `limit` due messages. Each is claimed first (its next attempt pushed
    out), so several billing replicas never send one message at the same time; a
    failure schedules a retry with exponential backoff."""
    with runtime.session(write=True) as session:
        due = list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_time <= now)
                .order_by(OutboxMessage.next_attempt_time, OutboxMessage.id)  # type: ignore[arg-type]
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for message in due:
            message.next_attempt_time = now + _CLAIM
            session.add(message)
    sent = failed = 0
    stub = notification_service_pb2_grpc.NotificationServiceStub(runtime.channel("notification"))
    for message in due:
        error = _send(stub, message)
        with runtime.session(write=True) as session:
            values: dict[str, object]
            if error is None:
                sent += 1
                values = {"state": SENT, "sent_time": now, "last_error": ""}
            else:
                failed += 1
                attempts = message.attempts + 1
                backoff = min(timedelta(seconds=5 * 2 ** min(attempts, 12)), _MAX_BACKOFF)
                values = {
                    "attempts": attempts,
                    "next_attempt_time": now + backoff,
                    "last_error": error[:500],
                }
            session.execute(sa.update(_TABLE).where(_TABLE.c.id == message.id).values(**values))
    if failed:
        log.info("alerts not delivered yet", extra={"sent": sent, "failed": failed})
    return DeliveryResult(sent, failed)


def _send(
    stub: notification_service_pb2_grpc.NotificationServiceStub, row: OutboxMessage
) -> str | None:
    """Create the message; None on success, else what went wrong."""
    request = notification_service_pb2.CreateMessageRequest(
        request_id=row.request_id,
        message=notification_pb2.Message(
            topic=account_pb2.TOPIC_BILL,
            template=row.template,
            parameters=json.loads(row.parameters),
            channels=[account_pb2.DELIVERY_CHANNEL_IN_APP, account_pb2.DELIVERY_CHANNEL_PUSH],
            customers=[f"customers/{row.customer_id}"],
            target=row.target,
        ),
    )
    try:
        options = downstream_call_options(default_timeout=5.0)
        stub.CreateMessage(request, **options.kwargs())
    except grpc.RpcError as exc:
        if isinstance(exc, grpc.Call):
            return f"{exc.code().name}: {exc.details()}"
        return f"ERROR: {exc}"
    return None
