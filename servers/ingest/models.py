"""The ingest service's tables: the version applied of each source record, and the
records kept in quarantine. Every name starts with `ingest_`; they live in their own
registry, so `metadata` is exactly the ingest schema. Times are aware UTC."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, Index, LargeBinary, false
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import json_list_field, time_field


class IngestModel(SQLModel, registry=registry()):
    """Base of every ingest table."""


metadata = IngestModel.metadata


class AppliedRecord(IngestModel, table=True):
    """The version of a source record last applied: what makes a record sent again change
    nothing and an older version never overwrite a newer one."""

    __tablename__ = "ingest_applied_records"

    # RecordKind name without the prefix ("CUSTOMER").
    kind: str = Field(primary_key=True, max_length=24)
    source_id: str = Field(primary_key=True, max_length=160)
    version_time: datetime = time_field()
    # sha256 of the record's deterministic serialization.
    digest: str = Field(max_length=64)
    apply_time: datetime = time_field()


class QuarantineState(enum.StrEnum):
    """The names of `palmgrid.ingest.v1.QuarantineState`."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    DISCARDED = "DISCARDED"
    SUPERSEDED = "SUPERSEDED"


class QuarantineRow(IngestModel, table=True):
    """A record that could not be applied; `id` is the last segment of its name."""

    __tablename__ = "ingest_quarantined_records"
    __table_args__ = (
        Index("ix_ingest_quarantined_state_time", "state", "create_time", "id"),
        Index("ix_ingest_quarantined_key", "kind", "source_id", "state"),
    )

    id: str = Field(primary_key=True, max_length=63)
    kind: str = Field(max_length=24)
    source: str = Field(max_length=80)
    source_id: str = Field(max_length=160)
    version_time: datetime = time_field()
    # The SourceRecord as sent (or as corrected by staff), serialized.
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str = Field(max_length=32)
    field: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=1000)
    state: str = Field(max_length=16)
    discard_reason: str = Field(default="", max_length=500)
    create_time: datetime = time_field()
    update_time: datetime = time_field()


class ImportJobState(enum.StrEnum):
    """The names of `palmgrid.ingest.v1.ImportJobState`."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE_JOB_STATES = (ImportJobState.QUEUED.value, ImportJobState.RUNNING.value)


class ImportJobRow(IngestModel, table=True):
    """An import job; `id` is the last segment of `importJobs/{id}`. Its cursor and
    counts are committed with the records each batch applied."""

    __tablename__ = "ingest_import_jobs"
    __table_args__ = (
        Index("ix_ingest_import_jobs_time", "create_time", "id"),
        Index("ix_ingest_import_jobs_source_state", "source", "state"),
    )

    id: str = Field(primary_key=True, max_length=63)
    # ImportSource name without the prefix ("CUSTOMERS").
    source: str = Field(max_length=24)
    state: str = Field(max_length=16)
    watermark_time: datetime | None = time_field(nullable=True)
    row_limit: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Rows from a CSV file sent with the job (servers.ingest.uploads), not the staging
    # database.
    from_file: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    cursor_time: datetime | None = time_field(nullable=True)
    cursor_key: str = Field(default="", max_length=64)
    next_watermark_time: datetime | None = time_field(nullable=True)
    total_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    read_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    applied_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    unchanged_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rejected_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # The first rejected rows: [{"row_key", "field", "reason", "message"}].
    errors: list[dict[str, str]] = json_list_field()
    failure_message: str = Field(default="", max_length=1000)
    creator: str = Field(max_length=80)
    create_time: datetime = time_field()
    start_time: datetime | None = time_field(nullable=True)
    end_time: datetime | None = time_field(nullable=True)
