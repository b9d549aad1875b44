"""Create the complaint-risk table.

Revision ID: 0003_care_complaint_risks
Revises: 0002_care_feedback
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_care_complaint_risks"
down_revision = "0002_care_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_complaint_risks",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("compute_time", sa.DateTime(), nullable=False),
        sa.Column("alert_key", sa.String(length=160), nullable=False),
        sa.Column("alert_pending", sa.Boolean(), nullable=False),
        sa.Column("alert_time", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", name="uq_care_complaint_risks_subject"),
    )
    op.create_index(
        "ix_care_complaint_risks_office",
        "care_complaint_risks",
        ["supply_office", "score", "compute_time", "id"],
    )
    op.create_index("ix_care_complaint_risks_alert", "care_complaint_risks", ["alert_pending"])


def downgrade() -> None:
    op.drop_index("ix_care_complaint_risks_alert", table_name="care_complaint_risks")
    op.drop_index("ix_care_complaint_risks_office", table_name="care_complaint_risks")
    op.drop_table("care_complaint_risks")
