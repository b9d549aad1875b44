"""Create the audit outbox and the request keys of one service.

Revision ID: 0001_runtime
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from servers.runtime.columns import AutoBigInt, UtcDateTime

revision = "0001_runtime"
down_revision = None
branch_labels = None
depends_on = None


def _service() -> str:
    """The service whose database this is: the migration runs as `<service>_runtime`."""
    config = op.get_context().config
    assert config is not None
    name = str(config.attributes["palmgrid_service"])
    return name.removesuffix("_runtime")


def upgrade() -> None:
    service = _service()
    op.create_table(
        f"{service}_audit_outbox",
        sa.Column("id", AutoBigInt, primary_key=True, autoincrement=True),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_time", UtcDateTime(), nullable=False),
    )
    op.create_table(
        f"{service}_request_keys",
        sa.Column("operation", sa.String(128), primary_key=True),
        sa.Column("caller", sa.String(128), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    service = _service()
    op.drop_table(f"{service}_request_keys")
    op.drop_table(f"{service}_audit_outbox")
