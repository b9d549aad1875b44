"""The worker's tables: one row per job (its schedule, lease and last run) and a
record per run. Every name starts with `worker_`, so the worker may share a database
with the services; they live in their own registry, so `metadata` is exactly the
worker's schema. Times are aware UTC (`servers.runtime.columns`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, time_field


class WorkerModel(SQLModel, registry=registry()):
    """Base of every worker table."""


metadata = WorkerModel.metadata

OK = "OK"
FAILED = "FAILED"


class JobRow(WorkerModel, table=True):
    """A job's state. A worker runs the job only while it holds the lease: claimed
    when `next_run_time` has come and no lease is live, renewed while it runs, given
    up when the run ends (and `next_run_time` moves on)."""

    __tablename__ = "worker_jobs"

    name: str = Field(primary_key=True, max_length=100)
    schedule: str = Field(max_length=100)
    next_run_time: datetime = time_field()
    lease_owner: str = Field(default="", max_length=200)
    lease_expire_time: datetime | None = time_field(nullable=True)
    last_start_time: datetime | None = time_field(nullable=True)
    last_end_time: datetime | None = time_field(nullable=True)
    last_duration_ms: int | None = Field(default=None)
    # OK, FAILED, or "" before the first run.
    last_outcome: str = Field(default="", max_length=16)
    last_message: str = Field(default="", max_length=1000)
    run_count: int = Field(default=0)
    failure_count: int = Field(default=0)


class JobRunRow(WorkerModel, table=True):
    """One run of a job, by one worker."""

    __tablename__ = "worker_job_runs"
    __table_args__ = (Index("ix_worker_job_runs_job_start", "job", "start_time"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    job: str = Field(max_length=100)
    worker: str = Field(max_length=200)
    start_time: datetime = time_field()
    end_time: datetime | None = time_field(nullable=True)
    outcome: str = Field(default="", max_length=16)
    message: str = Field(default="", max_length=1000)
