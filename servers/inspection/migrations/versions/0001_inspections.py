"""Create the inspection task, assignee, finding and photo tables.

Revision ID: 0001_inspection
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_inspection"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inspection_inspections",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        _time("due_time"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("anomaly", sa.String(length=80), nullable=False),
        sa.Column("customer_display_name", sa.String(length=64), nullable=False),
        sa.Column("customer_phone", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("notice_text", sa.String(length=2000), nullable=False),
        _time("notice_deadline", nullable=True),
        sa.Column("notice_number", sa.String(length=40), nullable=False),
        _time("notice_issue_time", nullable=True),
        sa.Column("theft_penalty", sa.LargeBinary(), nullable=True),
        sa.Column("completion_note", sa.String(length=2000), nullable=False),
        sa.Column("cancel_reason", sa.String(length=500), nullable=False),
        sa.Column("creator", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        _time("close_time", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inspection_inspections_office_due",
        "inspection_inspections",
        ["supply_office", "due_time", "id"],
    )
    op.create_table(
        "inspection_assignees",
        sa.Column("inspection_id", sa.String(length=63), nullable=False),
        sa.Column("user", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("inspection_id", "user"),
    )
    op.create_index(
        "ix_inspection_assignees_user", "inspection_assignees", ["user", "inspection_id"]
    )
    op.create_table(
        "inspection_findings",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("inspection_id", sa.String(length=63), nullable=False),
        sa.Column("inspector", sa.String(length=80), nullable=False),
        sa.Column("checked_items", sa.JSON(), nullable=False),
        sa.Column("meter_number", sa.String(length=32), nullable=False),
        sa.Column("register_wh", sa.BigInteger(), nullable=True),
        sa.Column("seal_state", sa.String(length=16), nullable=False),
        sa.Column("violation_kind", sa.String(length=40), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("location_accuracy_meters", sa.Float(), nullable=False),
        _time("observe_time"),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("witness_name", sa.String(length=50), nullable=False),
        _time("create_time"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inspection_findings_task",
        "inspection_findings",
        ["inspection_id", "observe_time", "id"],
    )
    op.create_table(
        "inspection_photos",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _time("create_time"),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("inspection_photos")
    op.drop_index("ix_inspection_findings_task", table_name="inspection_findings")
    op.drop_table("inspection_findings")
    op.drop_index("ix_inspection_assignees_user", table_name="inspection_assignees")
    op.drop_table("inspection_assignees")
    op.drop_index("ix_inspection_inspections_office_due", table_name="inspection_inspections")
    op.drop_table("inspection_inspections")
