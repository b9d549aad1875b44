"""DeliverDueMessages: claim due deliveries, send them, record every attempt.

1. **Claim** (one short transaction): pending deliveries whose time has come, locked
   with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent callers take
   different rows and never wait for each other (SQLite takes its write lock with BEGIN
   IMMEDIATE instead: one sender at a time). Each claimed row gets its attempt number
   and an IN_FLIGHT attempt, and its next attempt time moves to the end of the claim
   (`claim_seconds`). Rows of expired messages become EXPIRED; SMS and push of normal
   messages inside quiet hours move to the end of them, unclaimed.
2. **Send**, outside any transaction, with the delivery's send key as idempotency key.
3. **Record** (one transaction per delivery): the attempt's outcome and receipt; the
   delivery DELIVERED, FAILED (rejected, or the last attempt failed: the dead letter) or
   PENDING again after an exponential backoff.

A caller that dies between 1 and 3 leaves the row claimed: once the claim lapses it is
due again and sent with the same key, which the gateway (and the inbox) acknowledge
without delivering twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from sqlalchemy import func
from sqlmodel import Session, col, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from servers.notification.accounts import AccountDirectory
from servers.notification.completion import complete_if_done
from servers.notification.config import NotificationConfig
from servers.notification.gateways import Gateways
from servers.notification.models import AttemptRow, DeliveryRow, MessageRow
from servers.notification.outcomes import SendResult
from servers.notification.quiet_hours import QuietHours
from servers.notification.resources import message_name, name_value
from servers.runtime import Clock, Runtime

DEFAULT_BATCH = 100


@dataclass(frozen=True)
class Claim:
    """A claimed delivery: what to send, and the attempt it is."""

    delivery_id: str
    message_id: str
    number: int
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
class Tally:
    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    expired: int = 0


class DeliveryMethods:
    runtime: Runtime
    config: NotificationConfig
    clock: Clock
    accounts: AccountDirectory
    gateways: Gateways
    quiet_hours: QuietHours

    def DeliverDueMessages(
        self, request: service_pb.DeliverDueMessagesRequest, context: grpc.ServicerContext
    ) -> service_pb.DeliverDueMessagesResponse:
        tally = Tally()
        claims = self._claim(request.max_deliveries or DEFAULT_BATCH, tally)
        for claim in claims:
            self._record(claim, self._send(claim), tally)
        with self.runtime.session() as session:
            remaining = session.exec(
                select(func.count()).where(
                    col(DeliveryRow.state) == "PENDING",
                    col(DeliveryRow.next_attempt_time) <= self.clock.now(),
                )
            ).one()
        return service_pb.DeliverDueMessagesResponse(
            attempted_count=tally.attempted,
            delivered_count=tally.delivered,
            retry_count=tally.retried,
            failed_count=tally.failed,
            remaining_count=remaining,
            deferred_count=tally.deferred,
            expired_count=tally.expired,
        )

    # --- 1. claim ---------------------------------------------------------------------

    def _claim(self, limit: int, tally: Tally) -> list[Claim]:
        now = self.clock.now()
        claims: list[Claim] = []
        with self.runtime.session(write=True) as session:
            rows = session.exec(
                select(DeliveryRow)
                .where(
                    col(DeliveryRow.state) == "PENDING",
                    col(DeliveryRow.next_attempt_time) <= now,
                )
                .order_by(col(DeliveryRow.next_attempt_time), col(DeliveryRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            messages = _messages(session, {row.message_id for row in rows})
            expired: set[str] = set()
            for row in rows:
                message = messages[row.message_id]
                row.update_time = now
                session.add(row)
                if message.expire_time is not None and message.expire_time <= now:
                    row.state = "EXPIRED"
                    row.error = "not made before the message's expire_time"
                    expired.add(message.id)
                    tally.expired += 1
                elif self.quiet_hours.applies(row.channel, urgent=row.urgent) and (
                    self.quiet_hours.contains(now)
                ):
                    row.next_attempt_time = self.quiet_hours.next_open(now)
                    tally.deferred += 1
                else:
                    claims.append(self._claimed(session, row, message, now))
            session.flush()
            sending = {claim.message_id for claim in claims}
            # Messages in id order, so that concurrent claimers lock them alike.
            for message_id in sorted(messages):
                message = messages[message_id]
                if message.state == "PENDING" and message_id in sending:
                    message.state = "SENDING"
                    message.update_time = now
                    session.add(message)
                elif message_id in expired:
                    complete_if_done(session, message, now)
        tally.attempted = len(claims)
        return claims

    def _claimed(
        self, session: Session, row: DeliveryRow, message: MessageRow, now: datetime
    ) -> Claim:
        row.attempt_count += 1
        row.next_attempt_time = now + timedelta(seconds=self.config.claim_seconds)
        session.add(
            AttemptRow(
                delivery_id=row.id, number=row.attempt_count, outcome="IN_FLIGHT", start_time=now
            )
        )
        return Claim(
            delivery_id=row.id,
            message_id=row.message_id,
            number=row.attempt_count,
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

    # --- 2. send ----------------------------------------------------------------------

    def _send(self, claim: Claim) -> SendResult:
        timeout = self.config.gateway_timeout_seconds
        if claim.channel == "SMS":
            sms = {"phone": claim.phone, "text": claim.body}
            return self.gateways.sms.send(claim.send_key, sms, timeout)
        if claim.channel == "PUSH":
            push = {"tokens": list(claim.push_tokens), "title": claim.title, "text": claim.body}
            return self.gateways.push.send(claim.send_key, push, timeout)
        inbox = account_pb.Message(
            topic=name_value(account_pb.Topic, claim.topic, "TOPIC_"),  # type: ignore[arg-type]
            title=claim.title,
            body=claim.body,
            customer=claim.customer,
            target=claim.target,
            notification=message_name(claim.message_id),
        )
        return self.accounts.write_inbox(claim.user, inbox, claim.send_key, timeout)

    # --- 3. record --------------------------------------------------------------------

    def _record(self, claim: Claim, result: SendResult, tally: Tally) -> None:
        now = self.clock.now()
        with self.runtime.session(write=True) as session:
            attempt = session.exec(
                select(AttemptRow).where(
                    col(AttemptRow.delivery_id) == claim.delivery_id,
                    col(AttemptRow.number) == claim.number,
                )
            ).first()
            if attempt is not None:
                attempt.outcome = result.outcome
                attempt.end_time = now
                attempt.receipt = result.receipt[:160]
                attempt.duplicate = result.duplicate
                attempt.error = result.error[:500]
                session.add(attempt)
            row = session.exec(
                select(DeliveryRow).where(DeliveryRow.id == claim.delivery_id).with_for_update()
            ).one()
            if row.state != "PENDING" or row.attempt_count != claim.number:
                return  # cancelled meanwhile, or claimed again after this claim lapsed
            self._settle(row, claim, result, now, tally)
            session.add(row)
            session.flush()
            message = session.get(MessageRow, row.message_id)
            if message is not None:
                complete_if_done(session, message, now)

    def _settle(
        self, row: DeliveryRow, claim: Claim, result: SendResult, now: datetime, tally: Tally
    ) -> None:
        row.update_time = now
        row.error = result.error[:500]
        if result.outcome == "ACCEPTED":
            row.state = "DELIVERED"
            row.deliver_time = now
            if claim.channel == "IN_APP":
                row.inbox_message = result.receipt[:160]
            else:
                row.provider_reference = result.receipt[:128]
            tally.delivered += 1
        elif result.outcome == "REJECTED" or row.attempt_count >= self.config.max_attempts:
            row.state = "FAILED"
            if result.outcome == "FAILED":
                row.error = f"given up after {row.attempt_count} attempts: {result.error}"[:500]
            tally.failed += 1
        else:
            row.next_attempt_time = now + self.backoff(row.attempt_count)
            tally.retried += 1

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: base × 2^(attempts − 1), at
        most the configured maximum."""
        seconds = self.config.retry_base_seconds * 2 ** min(attempts - 1, 30)
        return timedelta(seconds=min(seconds, self.config.retry_max_seconds))


def _messages(session: Session, message_ids: set[str]) -> dict[str, MessageRow]:
    if not message_ids:
        return {}
    rows = session.exec(select(MessageRow).where(col(MessageRow.id).in_(sorted(message_ids))))
    return {row.id: row for row in rows}
