"""DeliverDueMessages: claim due deliveries, send them, record every attempt.

1. **Claim** (servers.notification.claims): pending deliveries whose time has come,
   locked with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent callers
   take different rows and never wait for each other (SQLite takes its write lock with
   BEGIN IMMEDIATE instead: one sender at a time). Rows of expired messages become
   EXPIRED; SMS and push of normal messages inside quiet hours move to the end of them.
2. **Send**, one row after another, outside any transaction, with the delivery's send
   key as idempotency key. Just before its send a row's claim is renewed for
   `claim_seconds` with a conditional update; a row whose claim lapsed and was taken
   by another sender (or that was cancelled) is not sent. When the caller's deadline
   leaves no room for another send, the rows not yet sent are handed back unattempted.
3. **Record** (one transaction per delivery, its message locked first): the attempt's
   outcome and receipt; the delivery DELIVERED, FAILED (rejected, or the last attempt
   failed: the dead letter) or PENDING again after an exponential backoff.

A caller that dies between 1 and 3 leaves the row claimed: once the claim lapses it is
due again and sent with the same key, which the gateway (and the inbox) acknowledge
without delivering twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from sqlalchemy import func
from sqlmodel import col, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from servers.notification.accounts import AccountDirectory
from servers.notification.claims import Claim, claim_due, lock_messages, release, renew
from servers.notification.completion import complete_if_done
from servers.notification.config import NotificationConfig
from servers.notification.gateways import Gateways
from servers.notification.models import AttemptRow, DeliveryRow
from servers.notification.outcomes import SendResult
from servers.notification.quiet_hours import QuietHours
from servers.notification.resources import message_name, name_value
from servers.runtime import Clock, Runtime, current_call

DEFAULT_BATCH = 100
# Kept of the caller's deadline after a send, to record it and answer.
ANSWER_RESERVE_SECONDS = 1.0


@dataclass
class Tally:
    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


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
        hold = timedelta(seconds=self.config.claim_seconds)
        found = claim_due(
            self.runtime,
            self.clock.now(),
            request.max_deliveries or DEFAULT_BATCH,
            hold,
            self.quiet_hours,
        )
        for index, claim in enumerate(found.claims):
            if not self._time_for_a_send(context):
                release(self.runtime, found.claims[index:], self.clock.now())
                break
            if not renew(self.runtime, claim, self.clock.now(), hold):
                continue  # claimed again after its claim lapsed, or cancelled
            tally.attempted += 1
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
            deferred_count=found.deferred,
            expired_count=found.expired,
        )

    def _time_for_a_send(self, context: grpc.ServicerContext) -> bool:
        """Whether the caller still waits (a worker killed mid-call reads no answer) and a
        whole send (its timeout) and recording it fit before its deadline; a send cut
        short by the deadline would only be a failed attempt."""
        if not context.is_active():
            return False
        call = current_call()
        left = call.time_remaining() if call else None
        return left is None or left >= self.config.gateway_timeout_seconds + ANSWER_RESERVE_SECONDS

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
            # The message first, as CancelMessage locks it: results for one message are
            # recorded one at a time, so the last one sees that none is pending.
            [message] = lock_messages(session, {claim.message_id})
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
