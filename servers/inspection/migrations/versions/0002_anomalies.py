"""Create the metering anomaly table.

Revision ID: 0002_inspection_anomalies
Revises: 0001_inspection
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_inspection_anomalies"
down_revision = "0001_inspection"
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "inspection_anomalies",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _time("detect_time"),
        sa.Column("source_event", sa.String(length=128), nullable=False),
        sa.Column("meter_number", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("inspection", sa.String(length=80), nullable=False),
        sa.Column("dismiss_reason", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_event", name="uq_inspection_anomalies_source_event"),
    )
    op.create_index(
        "ix_inspection_anomalies_office",
        "inspection_anomalies",
        ["supply_office", "state", "create_time", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_inspection_anomalies_office", table_name="inspection_anomalies")
    op.drop_table("inspection_anomalies")
