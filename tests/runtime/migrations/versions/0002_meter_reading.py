"""meter reading

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode on SQLite rebuilds the table: the test checks that meters survive it.
    with op.batch_alter_table("probe_meter") as batch:
        batch.add_column(
            sa.Column("reading_wh", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_probe_meter_code", ["code"])


def downgrade() -> None:
    with op.batch_alter_table("probe_meter") as batch:
        batch.drop_index("ix_probe_meter_code")
        batch.drop_column("reading_wh")
