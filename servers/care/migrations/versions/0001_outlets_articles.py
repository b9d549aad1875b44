"""Create the outlet and article tables.

Revision ID: 0001_care
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_care"
down_revision = None
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "care_outlets",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("hours_note", sa.String(length=200), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "care_articles",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("cover_image_uri", sa.String(length=2048), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("publish_time", sa.DateTime(), nullable=True),
        sa.Column("withdraw_time", sa.DateTime(), nullable=True),
        sa.Column("withdraw_reason", sa.String(length=500), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_care_articles_public", "care_articles", ["state", "pinned", "publish_time", "id"]
    )
    op.create_index("ix_care_articles_changed", "care_articles", ["update_time", "id"])


def downgrade() -> None:
    op.drop_index("ix_care_articles_changed", table_name="care_articles")
    op.drop_index("ix_care_articles_public", table_name="care_articles")
    op.drop_table("care_articles")
    op.drop_table("care_outlets")
