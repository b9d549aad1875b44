"""Keep each customer binding's supply office, so staff reads of a user can be kept to
the offices of the customers the user is bound to.

Revision ID: 0003_account_binding_office
Revises: 0002_account_login_throttle
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_account_binding_office"
down_revision = "0002_account_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_customer_bindings") as table:
        table.add_column(
            sa.Column("supply_office", sa.String(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("account_customer_bindings") as table:
        table.drop_column("supply_office")
