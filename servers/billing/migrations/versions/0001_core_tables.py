"""Billing core: customer archive, meters, readings, usage, tariffs, bills, ledger, balance

Revision ID: 12206863a06e
Revises:
Create Date: 2026-11-26 05:59:53.428396
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "12206863a06e"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:

    op.create_table(
        "billing_bill",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("period_start_date", sa.Date(), nullable=False),
        sa.Column("period_end_date", sa.Date(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.String(), nullable=False),
        sa.Column("tariff_version", sa.String(length=128), nullable=False),
        sa.Column("opening_reading_wh", sa.BigInteger(), nullable=False),
        sa.Column("closing_reading_wh", sa.BigInteger(), nullable=False),
        sa.Column("reading_quality", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("late_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("late_fee_through", sa.Date(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "month"),
    )
    op.create_table(
        "billing_customer",
        sa.Column("id", sa.String(length=10), nullable=False),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("holder_id_number", sa.String(length=32), nullable=False),
        sa.Column("registered_phone", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=16), nullable=False),
        sa.Column("tariff", sa.String(length=63), nullable=False),
        sa.Column("billing_mode", sa.String(length=16), nullable=False),
        sa.Column("large_household", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("debit_bank", sa.String(length=64), nullable=False),
        sa.Column("debit_account", sa.String(length=32), nullable=False),
        sa.Column("open_date", sa.Date(), nullable=True),
        sa.Column("source_update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("billing_customer", schema=None) as batch_op:
        batch_op.create_index("ix_billing_customer_area_code", ["area_code", "id"], unique=False)
        batch_op.create_index(
            "ix_billing_customer_supply_office", ["supply_office", "id"], unique=False
        )

    op.create_table(
        "billing_meter_reading",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("read_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_wh", sa.BigInteger(), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("sharp_wh", sa.BigInteger(), nullable=True),
        sa.Column("peak_wh", sa.BigInteger(), nullable=True),
        sa.Column("flat_wh", sa.BigInteger(), nullable=True),
        sa.Column("valley_wh", sa.BigInteger(), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "meter_id", "id"),
    )
    with op.batch_alter_table("billing_meter_reading", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billing_meter_reading_time", ["customer_id", "read_time"], unique=False
        )

    op.create_table(
        "billing_monthly_usage",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("charge_fen", sa.BigInteger(), nullable=False),
        sa.Column("reading_quality", sa.String(length=16), nullable=False),
        sa.Column("sharp_wh", sa.BigInteger(), nullable=True),
        sa.Column("peak_wh", sa.BigInteger(), nullable=True),
        sa.Column("flat_wh", sa.BigInteger(), nullable=True),
        sa.Column("valley_wh", sa.BigInteger(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "month"),
    )
    op.create_table(
        "billing_tariff",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("customer_category", sa.String(length=16), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "billing_adjustment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("bill", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("ledger_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("creator", sa.String(length=128), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("billing_adjustment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billing_adjustment_customer", ["customer_id", "create_time"], unique=False
        )

    op.create_table(
        "billing_balance",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customer.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "billing_ledger_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_after_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "reference", name="uq_billing_ledger_entry_reference"),
    )
    with op.batch_alter_table("billing_ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billing_ledger_entry_customer", ["customer_id", "id"], unique=False
        )

    op.create_table(
        "billing_meter",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("multiplier", sa.Integer(), nullable=False),
        sa.Column("time_of_use", sa.Boolean(), nullable=False),
        sa.Column("remote_read", sa.Boolean(), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("remove_date", sa.Date(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customer.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id", "id"),
    )
    op.create_table(
        "billing_tariff_version",
        sa.Column("tariff_id", sa.String(length=63), nullable=False),
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("schedule", sa.String(), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("creator", sa.String(length=128), nullable=False),
        sa.Column("publish_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publisher", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["billing_tariff.id"],
        ),
        sa.PrimaryKeyConstraint("tariff_id", "id"),
    )


def downgrade() -> None:

    op.drop_table("billing_tariff_version")
    op.drop_table("billing_meter")
    with op.batch_alter_table("billing_ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_ledger_entry_customer")

    op.drop_table("billing_ledger_entry")
    op.drop_table("billing_balance")
    with op.batch_alter_table("billing_adjustment", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_adjustment_customer")

    op.drop_table("billing_adjustment")
    op.drop_table("billing_tariff")
    op.drop_table("billing_monthly_usage")
    with op.batch_alter_table("billing_meter_reading", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_meter_reading_time")

    op.drop_table("billing_meter_reading")
    with op.batch_alter_table("billing_customer", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_customer_supply_office")
        batch_op.drop_index("ix_billing_customer_area_code")

    op.drop_table("billing_customer")
    op.drop_table("billing_bill")
