"""customers and meters

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "probe_customer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False, unique=True),
    )
    op.create_table(
        "probe_meter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("probe_customer.id"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("probe_meter")
    op.drop_table("probe_customer")
