"""Billing core: index open bills by due date (the daily late-fee run)

Revision ID: 0003core
Revises: 0002core
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003core"
down_revision = "0002core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_billing_bill_open",
        "billing_bill",
        ["due_date"],
        postgresql_where=sa.text("state <> 'PAID'"),
        sqlite_where=sa.text("state <> 'PAID'"),
    )


def downgrade() -> None:
    op.drop_index("ix_billing_bill_open", table_name="billing_bill")
