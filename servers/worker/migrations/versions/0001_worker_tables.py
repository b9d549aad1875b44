"""Create the job and job-run tables.

Revision ID: 0001_worker
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from servers.runtime.columns import AutoBigInt

revision = "0001_worker"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_jobs",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("next_run_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=False),
        sa.Column("lease_expire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=False),
        sa.Column("last_message", sa.String(length=1000), nullable=False),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "worker_job_runs",
        sa.Column("id", AutoBigInt, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
    )
    op.create_index("ix_worker_job_runs_job_start", "worker_job_runs", ["job", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_worker_job_runs_job_start", table_name="worker_job_runs")
    op.drop_table("worker_job_runs")
    op.drop_table("worker_jobs")
