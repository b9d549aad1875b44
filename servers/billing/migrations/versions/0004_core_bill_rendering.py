"""Billing core: bills keep a rendering of their fixed part for fast reads

Revision ID: 0004core
Revises: 0003core
Create Date: 2026-11-26 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004core"
down_revision = "0003core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("billing_bill") as batch:
        batch.add_column(sa.Column("resource", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("billing_bill") as batch:
        batch.drop_column("resource")
