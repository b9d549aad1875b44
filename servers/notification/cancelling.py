"""CancelMessage: deliveries not yet made are skipped; made ones stay as they are. The
event is given back for the skipped deliveries never attempted: a later message of the
same event reaches those users on those channels. One attempted may have reached its
user (an answer lost, a send under way), so its event stays taken."""

from __future__ import annotations

import grpc
from sqlalchemy import delete
from sqlmodel import Session, col, select

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from servers.notification.completion import ENDED
from servers.notification.models import AttemptRow, DeliveryRow, EventSendRow, MessageRow
from servers.notification.resources import message_id_of, message_to_proto, stats_of
from servers.runtime import Clock, FailedPrecondition, NotFound, Runtime, audit_note


class CancelMethods:
    runtime: Runtime
    clock: Clock

    def CancelMessage(
        self, request: service_pb.CancelMessageRequest, context: grpc.ServicerContext
    ) -> service_pb.CancelMessageResponse:
        audit_note().details = {"reason": request.reason}
        now = self.clock.now()
        with self.runtime.session(write=True) as session:
            message = session.exec(
                select(MessageRow)
                .where(MessageRow.id == message_id_of(request.name))
                .with_for_update()
            ).first()
            if message is None:
                raise NotFound(f"{request.name} not found")
            if message.state in ENDED:
                raise FailedPrecondition(f"{request.name} is already {message.state.lower()}")
            pending = session.exec(
                select(DeliveryRow)
                .where(
                    col(DeliveryRow.message_id) == message.id, col(DeliveryRow.state) == "PENDING"
                )
                .with_for_update()
            ).all()
            attempted = set(
                session.exec(
                    select(AttemptRow.delivery_id)
                    .join(DeliveryRow, col(DeliveryRow.id) == col(AttemptRow.delivery_id))
                    .where(col(DeliveryRow.message_id) == message.id)
                )
            )
            for row in pending:
                row.state = "SKIPPED"
                row.error = f"cancelled: {request.reason}"
                row.update_time = now
                session.add(row)
                if row.id not in attempted:
                    _release_event(session, message.event, row)
            message.state = "CANCELLED"
            message.cancel_reason = request.reason
            message.end_time = now
            message.update_time = now
            session.add(message)
            session.flush()
            stats = stats_of(session, [message.id])[message.id]
            return service_pb.CancelMessageResponse(message=message_to_proto(message, stats))


def _release_event(session: Session, event: str, row: DeliveryRow) -> None:
    """Forget that `row` planned `event` for its user and channel (it is never sent)."""
    session.execute(
        delete(EventSendRow).where(
            col(EventSendRow.event) == event,
            col(EventSendRow.user) == row.user,
            col(EventSendRow.channel) == row.channel,
            col(EventSendRow.delivery_id) == row.id,
        )
    )
