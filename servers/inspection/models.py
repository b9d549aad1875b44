"""The inspection service's tables: tasks, their assignees, findings and the photos
taken as evidence. Every name starts with `inspection_`, so the service can share a
database with others; they live in their own registry, so `metadata` is exactly the
inspection schema.

Times are aware UTC (`timestamp with time zone`). Enumerations are stored by their proto
name without the enum prefix ("PERIODIC", "PENDING"), so rows read the same as the API.
A task carries a `version`, bumped on every change, from which its etag is derived.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import json_list_field, time_field


class InspectionModel(SQLModel, registry=registry()):
    """Base of every inspection table."""


metadata = InspectionModel.metadata


class InspectionState(enum.StrEnum):
    """The names of `palmgrid.inspection.v1.InspectionState`."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


OPEN_STATES = (InspectionState.PENDING.value, InspectionState.IN_PROGRESS.value)


class InspectionRow(InspectionModel, table=True):
    """An inspection task; `id` is the last segment of `inspections/{inspection}`."""

    __tablename__ = "inspection_inspections"
    __table_args__ = (
        # Lists: an office's tasks, soonest due first.
        Index("ix_inspection_inspections_office_due", "supply_office", "due_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    customer: str = Field(max_length=32)
    # InspectionKind name without the prefix.
    kind: str = Field(max_length=16)
    description: str = Field(default="", max_length=1000)
    supply_office: str = Field(max_length=32)
    due_time: datetime = time_field()
    state: str = Field(max_length=16)
    anomaly: str = Field(default="", max_length=80)
    # From the customer archive when the task was made, for the inspector on site.
    customer_display_name: str = Field(default="", max_length=64)
    customer_phone: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=256)
    # CheckItem names without the prefix, from the kind's checklist.
    checklist: list[str] = json_list_field()
    finding_count: int = Field(default=0)
    # InspectionOutcome name without the prefix ("" while open).
    outcome: str = Field(default="", max_length=32)
    notice_text: str = Field(default="", max_length=2000)
    notice_deadline: datetime | None = time_field(nullable=True)
    notice_number: str = Field(default="", max_length=40)
    notice_issue_time: datetime | None = time_field(nullable=True)
    # The serialized palmgrid.inspection.v1.TheftPenalty, when theft was confirmed.
    theft_penalty: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    completion_note: str = Field(default="", max_length=2000)
    cancel_reason: str = Field(default="", max_length=500)
    creator: str = Field(max_length=100)
    version: int = Field(default=1)
    create_time: datetime = time_field()
    update_time: datetime = time_field()
    close_time: datetime | None = time_field(nullable=True)


class AssigneeRow(InspectionModel, table=True):
    """One inspector assigned to a task; `position` keeps the order they were given."""

    __tablename__ = "inspection_assignees"
    __table_args__ = (Index("ix_inspection_assignees_user", "user", "inspection_id"),)

    inspection_id: str = Field(primary_key=True, max_length=63)
    user: str = Field(primary_key=True, max_length=80)
    position: int = Field(default=0)


class FindingRow(InspectionModel, table=True):
    """A finding recorded on a task; `id` is the last segment of its name."""

    __tablename__ = "inspection_findings"
    __table_args__ = (Index("ix_inspection_findings_task", "inspection_id", "observe_time", "id"),)

    id: str = Field(primary_key=True, max_length=63)
    inspection_id: str = Field(max_length=63)
    inspector: str = Field(max_length=80)
    # [{"item": "METER_SEAL", "result": "PASS", "note": ""}, ...]
    checked_items: list[dict[str, Any]] = json_list_field()
    meter_number: str = Field(default="", max_length=32)
    # None when the meter could not be read.
    register_wh: int | None = Field(default=None, sa_column=Column(BigInteger))
    seal_state: str = Field(default="", max_length=16)
    violation_kind: str = Field(max_length=40)
    # [{"sha256": …, "content_type": …, "size_bytes": …, "uri": …, "capture_time": …}]
    photos: list[dict[str, Any]] = json_list_field()
    latitude: float
    longitude: float
    location_accuracy_meters: float = Field(default=0.0)
    observe_time: datetime = time_field()
    note: str = Field(default="", max_length=2000)
    witness_name: str = Field(default="", max_length=50)
    create_time: datetime = time_field()


class PhotoRow(InspectionModel, table=True):
    """An evidence photo's bytes, stored once per content (keyed by its SHA-256)."""

    __tablename__ = "inspection_photos"

    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=32)
    size_bytes: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    create_time: datetime = time_field()


class AnomalyState(enum.StrEnum):
    """The names of `palmgrid.inspection.v1.AnomalyState`."""

    OPEN = "OPEN"
    TASKED = "TASKED"
    DISMISSED = "DISMISSED"


class AnomalyRow(InspectionModel, table=True):
    """A metering anomaly; `id` is the last segment of `anomalies/{anomaly}`."""

    __tablename__ = "inspection_anomalies"
    __table_args__ = (
        # Recording the same metering event twice finds the first.
        UniqueConstraint("source_event", name="uq_inspection_anomalies_source_event"),
        # Lists: an office's anomalies by state, newest first.
        Index("ix_inspection_anomalies_office", "supply_office", "state", "create_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    customer: str = Field(max_length=32)
    # AnomalyKind name without the prefix.
    kind: str = Field(max_length=32)
    detect_time: datetime = time_field()
    source_event: str = Field(max_length=128)
    meter_number: str = Field(default="", max_length=32)
    description: str = Field(default="", max_length=1000)
    supply_office: str = Field(max_length=32)
    state: str = Field(max_length=16)
    inspection: str = Field(default="", max_length=80)
    dismiss_reason: str = Field(default="", max_length=500)
    version: int = Field(default=1)
    create_time: datetime = time_field()
    update_time: datetime = time_field()
