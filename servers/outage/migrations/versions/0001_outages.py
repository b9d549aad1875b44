"""Create the outage, change-feed and notice tables.

Revision ID: 0001_outage
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_outage"
down_revision = None
branch_labels = None
depends_on = None

# An integer primary key that SQLite auto-increments (only INTEGER aliases its rowid).
AUTO_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outage_outages",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("area_description", sa.String(length=2000), nullable=False),
        _time("start_time"),
        _time("end_time", nullable=True),
        _time("estimated_restore_time", nullable=True),
        _time("restore_time", nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("urgent_reason", sa.String(length=500), nullable=False),
        sa.Column("cancel_reason", sa.String(length=500), nullable=False),
        sa.Column("restore_note", sa.String(length=500), nullable=False),
        sa.Column("affected_customer_count", sa.Integer(), nullable=False),
        sa.Column("creator", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        _time("remind_time", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("creator", "request_id", name="uq_outage_outages_request"),
    )
    op.create_index(
        "ix_outage_outages_state_start", "outage_outages", ["state", "start_time", "id"]
    )
    op.create_table(
        "outage_changes",
        sa.Column("seq", AUTO_BIGINT, autoincrement=True, nullable=False),
        sa.Column("outage_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outage", sa.LargeBinary(), nullable=False),
        _time("change_time"),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outage_changes_outage_id", "outage_changes", ["outage_id"])
    op.create_table(
        "outage_notices",
        sa.Column("id", AUTO_BIGINT, autoincrement=True, nullable=False),
        sa.Column("outage_id", sa.String(length=63), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        _time("create_time"),
        _time("deliver_time", nullable=True),
        _time("next_attempt_time"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outage_notices_pending", "outage_notices", ["deliver_time", "next_attempt_time"]
    )


def downgrade() -> None:
    op.drop_table("outage_notices")
    op.drop_table("outage_changes")
    op.drop_table("outage_outages")
