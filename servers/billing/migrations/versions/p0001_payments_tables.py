"""Payments: payments, idempotency keys, refunds, reconciliation reports, alert outbox

An independent branch (label "payments") beside the core's: the tables reference
customers by value, so neither branch depends on the other.

Revision ID: p0001payments
Revises:
Create Date: 2026-11-26 06:06:38.787333
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "p0001payments"
down_revision = None
branch_labels = ("payments",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_call", sa.String(length=16), nullable=False),
        sa.Column("payer", sa.String(length=128), nullable=False),
        sa.Column("prepay_id", sa.String(length=64), nullable=False),
        sa.Column("checkout_payload", sa.Text(), nullable=False),
        sa.Column("provider_order_id", sa.String(length=64), nullable=False),
        sa.Column("failure_reason", sa.String(length=64), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_customer", ["customer_id", "create_time", "id"], unique=False
        )
        batch_op.create_index("ix_payment_state", ["state", "create_time"], unique=False)

    op.create_table(
        "payment_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("payment_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_payment_outbox_due", ["state", "next_attempt_time"], unique=False)

    op.create_table(
        "payment_reconciliation",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_message", sa.String(length=1000), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("discrepancy_count", sa.Integer(), nullable=False),
        sa.Column("discrepancies", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "payment_refund",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_call", sa.String(length=16), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=64), nullable=False),
        sa.Column("failure_reason", sa.String(length=64), nullable=False),
        sa.Column("requester", sa.String(length=128), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_refund_payment", ["payment_id", "create_time"], unique=False
        )
        batch_op.create_index("ix_payment_refund_state", ["state", "create_time"], unique=False)

    op.create_table(
        "payment_request",
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operation", "request_id"),
    )


def downgrade() -> None:
    op.drop_table("payment_request")
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_refund_state")
        batch_op.drop_index("ix_payment_refund_payment")

    op.drop_table("payment_refund")
    op.drop_table("payment_reconciliation")
    with op.batch_alter_table("payment_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_outbox_due")

    op.drop_table("payment_outbox")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_state")
        batch_op.drop_index("ix_payment_customer")

    op.drop_table("payment")
