"""Add the applications' next reminder time and its index.

Revision ID: 0003_expansion_remind_time
Revises: 0002_expansion_attachments
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_expansion_remind_time"
down_revision = "0002_expansion_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("expansion_applications") as batch:
        batch.add_column(sa.Column("next_remind_time", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_expansion_applications_remind", ["next_remind_time"])
    # Running nodes are looked at by the next run (which sends nothing twice).
    op.execute(
        "UPDATE expansion_applications SET next_remind_time = create_time"
        " WHERE current_due_time IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("expansion_applications") as batch:
        batch.drop_index("ix_expansion_applications_remind")
        batch.drop_column("next_remind_time")
