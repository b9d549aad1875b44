"""Billing core: adjustments keep the payee of balance refunds and their request body
fingerprint (idempotent creation)

Revision ID: 0002core
Revises: 12206863a06e
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002core"
down_revision = "12206863a06e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("billing_adjustment") as batch:
        batch.add_column(
            sa.Column(
                "request_fingerprint", sa.String(length=64), nullable=False, server_default=""
            )
        )
        batch.add_column(
            sa.Column("payee_name", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("payee_bank", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("payee_account", sa.String(length=32), nullable=False, server_default="")
        )
        batch.create_unique_constraint("uq_billing_adjustment_request", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("billing_adjustment") as batch:
        batch.drop_constraint("uq_billing_adjustment_request", type_="unique")
        batch.drop_column("payee_account")
        batch.drop_column("payee_bank")
        batch.drop_column("payee_name")
        batch.drop_column("request_fingerprint")
