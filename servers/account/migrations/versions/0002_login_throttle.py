"""Count failed logins per (username, source) and per username, replacing the count per
username alone (which let anyone lock any user out).

Revision ID: 0002_account_login_throttle
Revises: 0001_account
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_account_login_throttle"
down_revision = "0001_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_login_throttle",
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username_key", "source"),
    )
    op.drop_table("account_login_attempts")


def downgrade() -> None:
    op.create_table(
        "account_login_attempts",
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username_key"),
    )
    op.drop_table("account_login_throttle")
