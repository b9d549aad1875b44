"""Create the import jobs.

Revision ID: 0002_ingest_import_jobs
Revises: 0001_ingest
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ingest_import_jobs"
down_revision = "0001_ingest"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ingest_import_jobs",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _time("watermark_time", nullable=True),
        _count("row_limit"),
        _time("cursor_time", nullable=True),
        sa.Column("cursor_key", sa.String(length=64), nullable=False),
        _time("next_watermark_time", nullable=True),
        _count("total_count"),
        _count("read_count"),
        _count("applied_count"),
        _count("unchanged_count"),
        _count("rejected_count"),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("failure_message", sa.String(length=1000), nullable=False),
        sa.Column("creator", sa.String(length=80), nullable=False),
        _time("create_time"),
        _time("start_time", nullable=True),
        _time("end_time", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_import_jobs_time", "ingest_import_jobs", ["create_time", "id"])
    op.create_index("ix_ingest_import_jobs_source_state", "ingest_import_jobs", ["source", "state"])


def downgrade() -> None:
    op.drop_table("ingest_import_jobs")
