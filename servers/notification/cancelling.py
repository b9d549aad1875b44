"""CancelMessage: deliveries not yet made are skipped; made ones stay as they are."""

from __future__ import annotations

import grpc
from sqlmodel import col, select

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from servers.notification.completion import ENDED
from servers.notification.models import DeliveryRow, MessageRow
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
            for row in pending:
                row.state = "SKIPPED"
                row.error = f"cancelled: {request.reason}"
                row.update_time = now
                session.add(row)
            message.state = "CANCELLED"
            message.cancel_reason = request.reason
            message.end_time = now
            message.update_time = now
            session.add(message)
            session.flush()
            stats = stats_of(session, [message.id])[message.id]
            return service_pb.CancelMessageResponse(message=message_to_proto(message, stats))
