"""Create the feedback tables.

Revision ID: 0002_care_feedback
Revises: 0001_care
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_care_feedback"
down_revision = "0001_care"
branch_labels = None
depends_on = None

# An integer key that SQLite auto-increments (only INTEGER aliases its rowid).
AUTO_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "care_feedback",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=False),
        sa.Column("due_time", sa.DateTime(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("rating_comment", sa.String(length=500), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("resolve_time", sa.DateTime(), nullable=True),
        sa.Column("close_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("author", "request_id", name="uq_care_feedback_request"),
    )
    op.create_index(
        "ix_care_feedback_office", "care_feedback", ["supply_office", "create_time", "id"]
    )
    op.create_index("ix_care_feedback_author", "care_feedback", ["author", "create_time", "id"])
    op.create_table(
        "care_feedback_events",
        sa.Column("id", AUTO_BIGINT, autoincrement=True, nullable=False),
        sa.Column("feedback_id", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_display_name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["care_feedback.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_care_feedback_events_feedback", "care_feedback_events", ["feedback_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_care_feedback_events_feedback", table_name="care_feedback_events")
    op.drop_table("care_feedback_events")
    op.drop_index("ix_care_feedback_author", table_name="care_feedback")
    op.drop_index("ix_care_feedback_office", table_name="care_feedback")
    op.drop_table("care_feedback")
