"""Add the applications' latest step recorded from the marketing system.

Revision ID: 0004_expansion_source_step
Revises: 0003_expansion_remind_time
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_expansion_source_step"
down_revision = "0003_expansion_remind_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("expansion_applications") as batch:
        batch.add_column(sa.Column("source_step_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("expansion_applications") as batch:
        batch.drop_column("source_step_time")
