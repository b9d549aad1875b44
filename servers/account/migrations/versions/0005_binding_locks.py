"""A lock row per customer, so that concurrent bindings of one customer cannot pass
the users-per-customer cap together.

Revision ID: 0005_account_binding_locks
Revises: 0004_account_binding_codes
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_account_binding_locks"
down_revision = "0004_account_binding_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_customer_binding_locks",
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer"),
    )


def downgrade() -> None:
    op.drop_table("account_customer_binding_locks")
