"""Create the outbox: messages, deliveries, attempts and event sends.

Revision ID: 0001_notification
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_notification"
down_revision = None
branch_labels = None
depends_on = None

# An integer key that SQLite auto-increments (only INTEGER aliases its rowid).
AUTO_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notification_messages",
        sa.Column("id", sa.String(length=63), primary_key=True),
        sa.Column("request_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("users", sa.JSON(), nullable=False),
        sa.Column("customers", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        _time("send_time", nullable=True),
        _time("expire_time", nullable=True),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cancel_reason", sa.String(length=200), nullable=False),
        _time("create_time"),
        _time("update_time"),
        _time("end_time", nullable=True),
    )
    op.create_index("ix_notification_messages_time", "notification_messages", ["create_time", "id"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.String(length=63), primary_key=True),
        sa.Column(
            "message_id",
            sa.String(length=63),
            sa.ForeignKey("notification_messages.id"),
            nullable=False,
        ),
        sa.Column("user", sa.String(length=70), nullable=False),
        sa.Column("customers", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("send_key", sa.String(length=36), nullable=False, unique=True),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("push_tokens", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        _time("next_attempt_time"),
        _time("deliver_time", nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("provider_reference", sa.String(length=128), nullable=False),
        sa.Column("inbox_message", sa.String(length=160), nullable=False),
        _time("create_time"),
        _time("update_time"),
    )
    op.create_index(
        "ix_notification_deliveries_due", "notification_deliveries", ["state", "next_attempt_time"]
    )
    op.create_index(
        "ix_notification_deliveries_message",
        "notification_deliveries",
        ["message_id", "create_time", "id"],
    )
    op.create_index(
        "ix_notification_deliveries_time", "notification_deliveries", ["create_time", "id"]
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", AUTO_BIGINT, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(length=63),
            sa.ForeignKey("notification_deliveries.id"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        _time("start_time"),
        _time("end_time", nullable=True),
        sa.Column("receipt", sa.String(length=160), nullable=False),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
    )
    op.create_index(
        "ix_notification_attempts_delivery", "notification_attempts", ["delivery_id", "number"]
    )
    op.create_table(
        "notification_event_sends",
        sa.Column("event", sa.String(length=200), primary_key=True),
        sa.Column("user", sa.String(length=70), primary_key=True),
        sa.Column("channel", sa.String(length=16), primary_key=True),
        sa.Column("delivery_id", sa.String(length=63), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_event_sends")
    op.drop_table("notification_attempts")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_messages")
