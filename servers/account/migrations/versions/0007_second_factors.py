"""Staff TOTP second factors and their recovery codes.

Revision ID: 0007_account_second_factors
Revises: 0006_account_login_sources
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_account_second_factors"
down_revision = "0006_account_login_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_second_factors",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("confirm_time", sa.DateTime(), nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "account_recovery_codes",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("used_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "code_digest"),
    )


def downgrade() -> None:
    op.drop_table("account_recovery_codes")
    op.drop_table("account_second_factors")
