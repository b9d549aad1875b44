"""Bind customers by a one-time code sent to the registered phone: the codes, and
attempts counted per user, per customer and per client address, replacing the failures
counted per user alone.

Revision ID: 0004_account_binding_codes
Revises: 0003_account_binding_office
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_account_binding_codes"
down_revision = "0003_account_binding_office"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_binding_codes",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=256), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("expire_time", sa.DateTime(), nullable=False),
        sa.Column("supply_office", sa.String(length=32), nullable=False),
        sa.Column("registered_phone", sa.String(length=16), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["account_users.id"]),
        sa.PrimaryKeyConstraint("user_id", "customer"),
    )
    op.create_table(
        "account_binding_attempts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    op.drop_index("ix_account_binding_failures_user_time", table_name="account_binding_failures")
    op.drop_table("account_binding_failures")


def downgrade() -> None:
    op.create_table(
        "account_binding_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["account_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_account_binding_failures_user_time",
        "account_binding_failures",
        ["user_id", "create_time"],
    )
    op.drop_table("account_binding_attempts")
    op.drop_table("account_binding_codes")
