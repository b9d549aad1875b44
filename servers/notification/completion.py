"""When a message as a whole is done: every delivery final."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from servers.notification.models import DeliveryRow, MessageRow

# States a message does not leave.
ENDED = ("COMPLETED", "CANCELLED")


def complete_if_done(session: Session, message: MessageRow, now: datetime) -> None:
    """Mark `message` COMPLETED when none of its deliveries is pending any more."""
    if message.state in ENDED:
        return
    pending = session.exec(
        select(DeliveryRow.id).where(
            col(DeliveryRow.message_id) == message.id, col(DeliveryRow.state) == "PENDING"
        )
    ).first()
    if pending is None:
        message.state = "COMPLETED"
        message.end_time = now
        message.update_time = now
        session.add(message)
