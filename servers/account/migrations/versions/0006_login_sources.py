"""The sources each username has signed in from, so that the per-username ceiling of
failed logins does not lock the owner out of a place they signed in from before.

Revision ID: 0006_account_login_sources
Revises: 0005_account_binding_locks
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_account_login_sources"
down_revision = "0005_account_binding_locks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_login_sources",
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("last_success_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username_key", "source"),
    )


def downgrade() -> None:
    op.drop_table("account_login_sources")
