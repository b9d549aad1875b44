"""Rows ⇄ the API's messages: `Message` with its stats, `Delivery` with its attempts,
and the enum names kept in the rows ("SMS", "PENDING", "OUTAGE")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from palmlib.masking import mask_phone
from servers.notification.models import AttemptRow, DeliveryRow, MessageRow
from servers.runtime.protoconv import timestamp

MESSAGE_PREFIX = "messages/"
# Delivery states that are final; PENDING is the only other one.
FINAL_DELIVERY_STATES = ("DELIVERED", "FAILED", "SKIPPED", "EXPIRED")
_STAT_FIELDS = {
    "PENDING": "pending_count",
    "DELIVERED": "delivered_count",
    "FAILED": "failed_count",
    "SKIPPED": "skipped_count",
    "EXPIRED": "expired_count",
}


def name_text(enum: Any, value: int, prefix: str) -> str:
    """An enum value's name without its prefix: name_text(Topic, 1, "TOPIC_") == "OUTAGE"."""
    return str(enum.Name(value)).removeprefix(prefix)


def name_value(enum: Any, text: str, prefix: str) -> int:
    """The inverse of name_text."""
    return int(enum.Value(prefix + text))


def topic_text(value: int) -> str:
    return name_text(account_pb.Topic, value, "TOPIC_")


def channel_text(value: int) -> str:
    return name_text(account_pb.DeliveryChannel, value, "DELIVERY_CHANNEL_")


def message_name(message_id: str) -> str:
    return MESSAGE_PREFIX + message_id


def message_id_of(name: str) -> str:
    return name.removeprefix(MESSAGE_PREFIX)


def delivery_name(row: DeliveryRow) -> str:
    return f"{message_name(row.message_id)}/deliveries/{row.id}"


def stats_of(
    session: Session, message_ids: Sequence[str]
) -> dict[str, notification_pb.DeliveryStats]:
    """Each message's delivery counts by state (one query for them all)."""
    stats = {message_id: notification_pb.DeliveryStats() for message_id in message_ids}
    if not message_ids:
        return stats
    rows = session.exec(
        select(DeliveryRow.message_id, DeliveryRow.state, func.count())
        .where(col(DeliveryRow.message_id).in_(list(message_ids)))
        .group_by(col(DeliveryRow.message_id), col(DeliveryRow.state))
    ).all()
    for message_id, state, count in rows:
        target = stats[message_id]
        setattr(target, _STAT_FIELDS[state], getattr(target, _STAT_FIELDS[state]) + count)
        target.total_count += count
    return stats


def message_to_proto(
    row: MessageRow, stats: notification_pb.DeliveryStats
) -> notification_pb.Message:
    return notification_pb.Message(
        name=message_name(row.id),
        topic=name_value(account_pb.Topic, row.topic, "TOPIC_"),  # type: ignore[arg-type]
        template=row.template,
        parameters=row.parameters,
        channels=[
            name_value(account_pb.DeliveryChannel, c, "DELIVERY_CHANNEL_")  # type: ignore[misc]
            for c in row.channels
        ],
        users=row.users,
        customers=row.customers,
        priority=notification_pb.PRIORITY_URGENT if row.urgent else notification_pb.PRIORITY_NORMAL,
        send_time=timestamp(row.send_time),
        expire_time=timestamp(row.expire_time),
        target=row.target,
        request_id=row.request_id,
        sender=row.sender,
        state=name_value(notification_pb.MessageState, row.state, "MESSAGE_STATE_"),  # type: ignore[arg-type]
        stats=stats,
        cancel_reason=row.cancel_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        end_time=timestamp(row.end_time),
        event=row.event,
    )


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[AttemptRow]]:
    """Each delivery's attempts, oldest first."""
    found: dict[str, list[AttemptRow]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        rows = session.exec(
            select(AttemptRow)
            .where(col(AttemptRow.delivery_id).in_(list(delivery_ids)))
            .order_by(col(AttemptRow.delivery_id), col(AttemptRow.number), col(AttemptRow.id))
        ).all()
        for row in rows:
            found[row.delivery_id].append(row)
    return found


def delivery_to_proto(row: DeliveryRow, attempts: Iterable[AttemptRow]) -> notification_pb.Delivery:
    return notification_pb.Delivery(
        name=delivery_name(row),
        user=row.user,
        customer=row.customers[0] if row.customers else "",
        channel=name_value(account_pb.DeliveryChannel, row.channel, "DELIVERY_CHANNEL_"),  # type: ignore[arg-type]
        state=name_value(notification_pb.DeliveryState, row.state, "DELIVERY_STATE_"),  # type: ignore[arg-type]
        attempt_count=row.attempt_count,
        next_attempt_time=timestamp(row.next_attempt_time if row.state == "PENDING" else None),
        deliver_time=timestamp(row.deliver_time),
        error=row.error,
        provider_reference=row.provider_reference,
        phone=mask_phone(row.phone),
        inbox_message=row.inbox_message,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        attempts=[
            notification_pb.DeliveryAttempt(
                number=attempt.number,
                outcome=name_value(  # type: ignore[arg-type]
                    notification_pb.AttemptOutcome, attempt.outcome, "ATTEMPT_OUTCOME_"
                ),
                start_time=timestamp(attempt.start_time),
                end_time=timestamp(attempt.end_time),
                receipt=attempt.receipt,
                duplicate=attempt.duplicate,
                error=attempt.error,
            )
            for attempt in attempts
        ],
    )
