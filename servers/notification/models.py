"""The notification service's tables: the outbox. Every name starts with
`notification_`, so the service can share a database with others; they live in their
own registry, so `metadata` is exactly the notification schema.

- `MessageRow`: what a sender asked for (one per request_id).
- `DeliveryRow`: one per recipient and channel, written with its message in one
  transaction; the unit the sender claims, sends and retries. `send_key` is the
  idempotency key every attempt carries, so a resend is never a second message.
- `AttemptRow`: every attempt of a delivery and the receipt it got.
- `EventSendRow`: which user was given which event on which channel: the same event
  reaches a user once per channel, whichever message it came in.

Times are aware UTC (`timestamp with time zone`); enumerations are stored by their proto
name without the prefix ("SMS", "PENDING"), so rows read the same as the API.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, json_list_field, time_field


class NotificationModel(SQLModel, registry=registry()):
    """Base of every notification table."""


metadata = NotificationModel.metadata


class MessageRow(NotificationModel, table=True):
    """A message; `id` is the last segment of `messages/{message}`."""

    __tablename__ = "notification_messages"
    __table_args__ = (Index("ix_notification_messages_time", "create_time", "id"),)

    id: str = Field(primary_key=True, max_length=63)
    request_id: str = Field(max_length=64, unique=True)
    # SHA-256 of the request as sent, so a reused request_id with another body is told
    # apart from a retry.
    request_hash: str = Field(max_length=64)
    event: str = Field(max_length=200)
    topic: str = Field(max_length=32)
    template: str = Field(max_length=64)
    parameters: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    channels: list[str] = json_list_field()
    users: list[str] = json_list_field()
    customers: list[str] = json_list_field()
    urgent: bool = False
    send_time: datetime | None = time_field(nullable=True)
    expire_time: datetime | None = time_field(nullable=True)
    target: str = Field(default="", max_length=256)
    sender: str = Field(max_length=100)
    state: str = Field(max_length=16)
    cancel_reason: str = Field(default="", max_length=200)
    create_time: datetime = time_field()
    update_time: datetime = time_field()
    end_time: datetime | None = time_field(nullable=True)


class DeliveryRow(NotificationModel, table=True):
    """One message to one user on one channel."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        # What DeliverDueMessages claims: pending rows whose time has come.
        Index("ix_notification_deliveries_due", "state", "next_attempt_time"),
        Index("ix_notification_deliveries_message", "message_id", "create_time", "id"),
        Index("ix_notification_deliveries_time", "create_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    message_id: str = Field(foreign_key="notification_messages.id", max_length=63)
    user: str = Field(max_length=70)
    # The customers (户号) through which the user was reached; [] when users were named.
    customers: list[str] = json_list_field()
    channel: str = Field(max_length=16)
    state: str = Field(max_length=16)
    # The idempotency key of every attempt (a UUID4).
    send_key: str = Field(max_length=36, unique=True)
    # What is sent, rendered from the template when the message was created.
    title: str = Field(max_length=64)
    body: str = Field(max_length=2000)
    # Where it goes: the phone number for SMS, the device tokens for push.
    phone: str = Field(default="", max_length=16)
    push_tokens: list[str] = json_list_field()
    urgent: bool = False
    attempt_count: int = 0
    # When it may next be claimed: its send time, the end of quiet hours, a retry's
    # time, or the end of the current claim.
    next_attempt_time: datetime = time_field()
    deliver_time: datetime | None = time_field(nullable=True)
    error: str = Field(default="", max_length=500)
    provider_reference: str = Field(default="", max_length=128)
    inbox_message: str = Field(default="", max_length=160)
    create_time: datetime = time_field()
    update_time: datetime = time_field()


class AttemptRow(NotificationModel, table=True):
    """One attempt of a delivery; `outcome` stays IN_FLIGHT until its answer is
    recorded (forever when the sender died mid-send)."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_delivery", "delivery_id", "number"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    delivery_id: str = Field(foreign_key="notification_deliveries.id", max_length=63)
    number: int
    outcome: str = Field(max_length=16)
    start_time: datetime = time_field()
    end_time: datetime | None = time_field(nullable=True)
    receipt: str = Field(default="", max_length=160)
    duplicate: bool = False
    error: str = Field(default="", max_length=500)


class EventSendRow(NotificationModel, table=True):
    """The event `event` was planned for `user` on `channel` by `delivery_id`."""

    __tablename__ = "notification_event_sends"

    event: str = Field(primary_key=True, max_length=200)
    user: str = Field(primary_key=True, max_length=70)
    channel: str = Field(primary_key=True, max_length=16)
    delivery_id: str = Field(max_length=63)
