"""The audit outbox holds pending records: each row's state, "ready" or "pending".

Revision ID: 0002_runtime
Revises: 0001_runtime
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_runtime"
down_revision = "0001_runtime"
branch_labels = None
depends_on = None


def _service() -> str:
    """The service whose database this is: the migration runs as `<service>_runtime`."""
    config = op.get_context().config
    assert config is not None
    return str(config.attributes["palmgrid_service"]).removesuffix("_runtime")


def upgrade() -> None:
    with op.batch_alter_table(f"{_service()}_audit_outbox") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="ready"))


def downgrade() -> None:
    with op.batch_alter_table(f"{_service()}_audit_outbox") as batch:
        batch.drop_column("state")
