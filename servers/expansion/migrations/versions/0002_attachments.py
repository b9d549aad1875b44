"""Create the attachments and blobs tables.

Revision ID: 0002_expansion_attachments
Revises: 0001_expansion
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_expansion_attachments"
down_revision = "0001_expansion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expansion_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "expansion_attachments",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploader", sa.String(length=100), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["expansion_applications.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["expansion_blobs.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_expansion_attachments_application",
        "expansion_attachments",
        ["application_id", "create_time", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_expansion_attachments_application", table_name="expansion_attachments")
    op.drop_table("expansion_attachments")
    op.drop_table("expansion_blobs")
