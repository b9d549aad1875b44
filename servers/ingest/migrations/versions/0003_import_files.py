"""Add whether an import job reads a CSV file sent with it.

Revision ID: 0003_ingest_import_files
Revises: 0002_ingest_import_jobs
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ingest_import_files"
down_revision = "0002_ingest_import_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_import_jobs") as batch:
        batch.add_column(
            sa.Column("from_file", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_import_jobs") as batch:
        batch.drop_column("from_file")
