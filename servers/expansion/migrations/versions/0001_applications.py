"""Create the applications, nodes, events, node time limits and reminders tables.

Revision ID: 0001_expansion
Revises:
Create Date: 2026-12-06 20:58:52.224288
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_expansion"
down_revision = None
branch_labels = None
depends_on = None

# An integer primary key that SQLite auto-increments (only INTEGER aliases its rowid).
AUTO_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "expansion_applications",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_id_number", sa.String(length=18), nullable=False),
        sa.Column("applicant_phone", sa.String(length=11), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("area_code", sa.String(length=16), nullable=False),
        sa.Column("capacity_kva", sa.Integer(), nullable=False),
        sa.Column("dual_supply", sa.Boolean(), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("current_seq", sa.Integer(), nullable=False),
        sa.Column("current_due_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_near_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("creator", sa.String(length=100), nullable=False),
        sa.Column("reject_reason", sa.String(length=1000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expansion_applications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_expansion_applications_creator", ["creator", "create_time", "id"], unique=False
        )
        batch_op.create_index(
            "ix_expansion_applications_due", ["current_due_time", "id"], unique=False
        )
        batch_op.create_index(
            "ix_expansion_applications_office", ["supply_office", "create_time", "id"], unique=False
        )

    op.create_table(
        "expansion_node_limits",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("application_kind", sa.String(length=32), nullable=False),
        sa.Column("node_kind", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("dual_supply_working_days", sa.Integer(), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("reminder_lead_seconds", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "expansion_reminders",
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("send_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "seq", "mark"),
    )
    op.create_table(
        "expansion_events",
        sa.Column("id", AUTO_BIGINT, nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["expansion_applications.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expansion_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_expansion_events_application", ["application_id", "id"], unique=False
        )

    op.create_table(
        "expansion_nodes",
        sa.Column("id", AUTO_BIGINT, nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handler", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("pause_time", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["expansion_applications.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "seq", name="uq_expansion_nodes_seq"),
    )


def downgrade() -> None:
    op.drop_table("expansion_nodes")
    with op.batch_alter_table("expansion_events", schema=None) as batch_op:
        batch_op.drop_index("ix_expansion_events_application")

    op.drop_table("expansion_events")
    op.drop_table("expansion_reminders")
    op.drop_table("expansion_node_limits")
    with op.batch_alter_table("expansion_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_expansion_applications_office")
        batch_op.drop_index("ix_expansion_applications_due")
        batch_op.drop_index("ix_expansion_applications_creator")

    op.drop_table("expansion_applications")
