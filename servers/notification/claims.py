"""Claims on deliveries: who may send a delivery, and until when.

A claim is a delivery's attempt number: claiming adds one to `attempt_count`, writes an
IN_FLIGHT attempt and moves `next_attempt_time` to the end of the claim. A sender owns
attempt n of a delivery while the row is PENDING with `attempt_count == n`; once the
claim lapses, another sender may claim it again (attempt n + 1), and the first one's
conditional updates, which all name n, then change nothing.

Locking: a transaction that locks a message locks it before any of its deliveries
(CancelMessage, recording a result). Claiming locks deliveries only (`FOR UPDATE SKIP
LOCKED`), and marks their messages SENDING afterwards in a transaction of its own, so
no transaction ever holds a delivery while waiting for its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, update
from sqlmodel import Session, col, select

from servers.notification.completion import complete_if_done
from servers.notification.models import AttemptRow, DeliveryRow, MessageRow
from servers.notification.quiet_hours import QuietHours
from servers.runtime import Runtime


@dataclass(frozen=True)
class Claim:
    """A claimed delivery: what to send, the attempt it is, and when it was due."""

    delivery_id: str
    message_id: str
    number: int
    due: datetime
    channel: str
    user: str
    send_key: str
    title: str
    body: str
    phone: str
    push_tokens: tuple[str, ...]
    customer: str
    topic: str
    target: str


@dataclass
class Claimed:
    """What one claim found: the deliveries to send, and those put off or dropped."""

    claims: list[Claim] = field(default_factory=list)
    deferred: int = 0
    expired: int = 0


def claim_due(
    runtime: Runtime, now: datetime, limit: int, hold: timedelta, quiet_hours: QuietHours
) -> Claimed:
    """Claim up to `limit` due deliveries for `hold`, oldest first; rows of expired
    messages become EXPIRED, SMS and push inside quiet hours move to their end."""
    found = Claimed()
    expired: set[str] = set()
    with runtime.session(write=True) as session:
        rows = session.exec(
            select(DeliveryRow)
            .where(col(DeliveryRow.state) == "PENDING", col(DeliveryRow.next_attempt_time) <= now)
            .order_by(col(DeliveryRow.next_attempt_time), col(DeliveryRow.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        # Read, not locked: the message rows are locked only in the second transaction.
        messages = _messages(session, {row.message_id for row in rows})
        for row in rows:
            message = messages[row.message_id]
            row.update_time = now
            session.add(row)
            if message.expire_time is not None and message.expire_time <= now:
                row.state = "EXPIRED"
                row.error = "not made before the message's expire_time"
                expired.add(message.id)
                found.expired += 1
            elif quiet_hours.applies(row.channel, urgent=row.urgent) and quiet_hours.contains(now):
                row.next_attempt_time = quiet_hours.next_open(now)
                found.deferred += 1
            else:
                found.claims.append(_claim(session, row, message, now, hold))
    _mark_messages(runtime, {claim.message_id for claim in found.claims}, expired, now)
    return found


def _claim(
    session: Session, row: DeliveryRow, message: MessageRow, now: datetime, hold: timedelta
) -> Claim:
    due = row.next_attempt_time
    row.attempt_count += 1
    row.next_attempt_time = now + hold
    session.add(
        AttemptRow(
            delivery_id=row.id, number=row.attempt_count, outcome="IN_FLIGHT", start_time=now
        )
    )
    return Claim(
        delivery_id=row.id,
        message_id=row.message_id,
        number=row.attempt_count,
        due=due,
        channel=row.channel,
        user=row.user,
        send_key=row.send_key,
        title=row.title,
        body=row.body,
        phone=row.phone,
        push_tokens=tuple(row.push_tokens),
        customer=row.customers[0] if row.customers else "",
        topic=message.topic,
        target=message.target,
    )


def _mark_messages(runtime: Runtime, sending: set[str], expired: set[str], now: datetime) -> None:
    """Messages with a claimed delivery are SENDING; those that lost their last pending
    delivery to expiry are COMPLETED. Locked in id order, as every sender does."""
    if not sending and not expired:
        return
    with runtime.session(write=True) as session:
        for message in lock_messages(session, sending | expired):
            if message.state == "PENDING" and message.id in sending:
                message.state = "SENDING"
                message.update_time = now
                session.add(message)
            elif message.id in expired:
                complete_if_done(session, message, now)


def renew(runtime: Runtime, claim: Claim, now: datetime, hold: timedelta) -> bool:
    """Extend `claim` to `now + hold` just before its send; False when it is no longer
    this sender's (claimed again after it lapsed, or cancelled): then it is not sent."""
    with runtime.session(write=True) as session:
        renewed = session.execute(
            update(DeliveryRow)
            .where(_owned(claim))
            .values(next_attempt_time=now + hold, update_time=now)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            return True
        _forget_attempt(session, claim)
        return False


def release(runtime: Runtime, claims: list[Claim], now: datetime) -> None:
    """Hand `claims` back unattempted: due again at their former time, their attempt
    number and IN_FLIGHT attempt undone (those no longer this sender's are left)."""
    if not claims:
        return
    with runtime.session(write=True) as session:
        for claim in claims:
            session.execute(
                update(DeliveryRow)
                .where(_owned(claim))
                .values(
                    attempt_count=claim.number - 1, next_attempt_time=claim.due, update_time=now
                )
            )
            _forget_attempt(session, claim)


def lock_messages(session: Session, message_ids: set[str]) -> list[MessageRow]:
    """The messages `message_ids`, locked for update in id order (PostgreSQL)."""
    if not message_ids:
        return []
    return list(
        session.exec(
            select(MessageRow)
            .where(col(MessageRow.id).in_(sorted(message_ids)))
            .order_by(col(MessageRow.id))
            .with_for_update()
        )
    )


def _owned(claim: Claim) -> ColumnElement[bool]:
    """The delivery, while `claim` is still its sender's."""
    return and_(
        col(DeliveryRow.id) == claim.delivery_id,
        col(DeliveryRow.state) == "PENDING",
        col(DeliveryRow.attempt_count) == claim.number,
    )


def _forget_attempt(session: Session, claim: Claim) -> None:
    """Drop the IN_FLIGHT attempt of a claim that was never sent."""
    session.execute(
        delete(AttemptRow).where(
            col(AttemptRow.delivery_id) == claim.delivery_id,
            col(AttemptRow.number) == claim.number,
            col(AttemptRow.outcome) == "IN_FLIGHT",
        )
    )


def _messages(session: Session, message_ids: set[str]) -> dict[str, MessageRow]:
    if not message_ids:
        return {}
    rows = session.exec(select(MessageRow).where(col(MessageRow.id).in_(sorted(message_ids))))
    return {row.id: row for row in rows}
