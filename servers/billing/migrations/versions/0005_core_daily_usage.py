"""Billing core: each meter's daily energy from the metering system's daily readings

Revision ID: 0005core
Revises: 0004core
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005core"
down_revision = "0004core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_daily_usage",
        sa.Column("customer_id", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day", "meter_id"),
    )


def downgrade() -> None:
    op.drop_table("billing_daily_usage")
