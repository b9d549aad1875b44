"""Notices go through the notification service: each keeps the template, parameters and
urgency of its message instead of a rendered title and body.

Notices still pending when this runs (written before, with texts only) cannot be sent
through a template; they are closed with a note in `last_error`.

Revision ID: 0002_outage_notice_templates
Revises: 0001_outage
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_outage_notice_templates"
down_revision = "0001_outage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE outage_notices SET deliver_time = next_attempt_time, "
        "last_error = 'not sent: queued before notices used templates' "
        "WHERE deliver_time IS NULL"
    )
    with op.batch_alter_table("outage_notices") as table:
        table.add_column(
            sa.Column("template", sa.String(length=64), nullable=False, server_default="")
        )
        table.add_column(sa.Column("parameters", sa.JSON(), nullable=False, server_default="{}"))
        table.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.drop_column("title")
        table.drop_column("body")


def downgrade() -> None:
    with op.batch_alter_table("outage_notices") as table:
        table.add_column(
            sa.Column("title", sa.String(length=64), nullable=False, server_default="")
        )
        table.add_column(
            sa.Column("body", sa.String(length=2000), nullable=False, server_default="")
        )
        table.drop_column("urgent")
        table.drop_column("parameters")
        table.drop_column("template")
