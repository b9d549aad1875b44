"""Create the applied-record ledger and the quarantine.

Revision ID: 0001_ingest
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ingest"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ingest_applied_records",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source_id", sa.String(length=160), nullable=False),
        _time("version_time"),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _time("apply_time"),
        sa.PrimaryKeyConstraint("kind", "source_id"),
    )
    op.create_table(
        "ingest_quarantined_records",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("source_id", sa.String(length=160), nullable=False),
        _time("version_time"),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("discard_reason", sa.String(length=500), nullable=False),
        _time("create_time"),
        _time("update_time"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_ingest_quarantined_state_time",
        "ingest_quarantined_records",
        ["state", "create_time", "id"],
    )
    op.create_index(
        "ix_ingest_quarantined_key", "ingest_quarantined_records", ["kind", "source_id", "state"]
    )


def downgrade() -> None:
    op.drop_table("ingest_quarantined_records")
    op.drop_table("ingest_applied_records")
