"""The expansion service's tables: applications, their nodes and transitions, the node
time limits, and the reminders sent. Every name starts with `expansion_`, so the
service can share a database with others; they live in their own registry, so
`metadata` is exactly the expansion schema.

Times are aware UTC (`servers.runtime.columns`). Enumerations are stored by their proto
name without the enum prefix ("HIGH_VOLTAGE", "IN_PROGRESS"), so rows read the same as
the API. Applications and limits carry a `version`, bumped on every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, time_field


class ExpansionModel(SQLModel, registry=registry()):
    """Base of every expansion table."""


metadata = ExpansionModel.metadata


def _time(*, nullable: bool = False) -> Any:
    return time_field(nullable=nullable)


class ApplicationRow(ExpansionModel, table=True):
    """An application; `id` is the last segment of `applications/{application}`.

    `current_seq` is the position of the node being worked on (0 once the application is
    closed) and `current_due_time` its due time while its clock runs (None while it
    waits on the customer or once closed), with `current_near_time`, kept here for the
    due lists.
    """

    __tablename__ = "expansion_applications"
    __table_args__ = (
        Index("ix_expansion_applications_office", "supply_office", "create_time", "id"),
        Index("ix_expansion_applications_creator", "creator", "create_time", "id"),
        Index("ix_expansion_applications_due", "current_due_time", "id"),
        Index("ix_expansion_applications_remind", "next_remind_time"),
    )

    id: str = Field(primary_key=True, max_length=63)
    # ApplicationKind / ApplicationPurpose / ApplicationState names without the prefix.
    kind: str = Field(max_length=32)
    purpose: str = Field(max_length=32)
    state: str = Field(max_length=16)
    # The applicant, in the clear: the edge seals these for the applicant and masks them
    # for staff; the service's own database is the protected store.
    applicant_name: str = Field(max_length=100)
    applicant_id_number: str = Field(max_length=18)
    applicant_phone: str = Field(max_length=11)
    address: str = Field(max_length=200)
    area_code: str = Field(default="", max_length=16)
    capacity_kva: int
    dual_supply: bool = Field(default=False)
    # `customers/{customer}` or "".
    customer: str = Field(default="", max_length=20)
    supply_office: str = Field(max_length=32)
    current_seq: int = Field(default=1)
    current_due_time: datetime | None = _time(nullable=True)
    # When the current node counts as near due (its due time less its reminder lead).
    current_near_time: datetime | None = _time(nullable=True)
    # When the reminder run should next look at the current node (None: never again).
    next_remind_time: datetime | None = _time(nullable=True)
    # The version (source time) of the latest step recorded from the marketing system:
    # a step not newer than it changes nothing.
    source_step_time: datetime | None = _time(nullable=True)
    # `users/{user}` who filed it.
    creator: str = Field(max_length=100)
    reject_reason: str = Field(default="", max_length=1000)
    version: int = Field(default=1)
    create_time: datetime = _time()
    update_time: datetime = _time()
    complete_time: datetime | None = _time(nullable=True)


class NodeRow(ExpansionModel, table=True):
    """One node of an application, at its position `seq` (from 1)."""

    __tablename__ = "expansion_nodes"
    __table_args__ = (UniqueConstraint("application_id", "seq", name="uq_expansion_nodes_seq"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    application_id: str = Field(foreign_key="expansion_applications.id", max_length=63)
    seq: int
    # NodeKind / NodeState names without the prefix.
    kind: str = Field(max_length=32)
    state: str = Field(max_length=32)
    start_time: datetime | None = _time(nullable=True)
    due_time: datetime | None = _time(nullable=True)
    complete_time: datetime | None = _time(nullable=True)
    handler: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=1000)
    # The limit the node was given when it began: working days, else seconds.
    working_days: int = Field(default=0)
    time_limit_seconds: int = Field(default=0)
    # Time waited on the customer before the current wait, and when that began.
    paused_seconds: int = Field(default=0)
    pause_time: datetime | None = _time(nullable=True)


class EventRow(ExpansionModel, table=True):
    """One transition of an application, in order of `id`."""

    __tablename__ = "expansion_events"
    __table_args__ = (Index("ix_expansion_events_application", "application_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    application_id: str = Field(foreign_key="expansion_applications.id", max_length=63)
    # ApplicationAction / NodeKind names without the prefix.
    action: str = Field(max_length=16)
    node: str = Field(max_length=32)
    actor: str = Field(max_length=100)
    note: str = Field(default="", sa_type=Text)
    time: datetime = _time()


class NodeLimitRow(ExpansionModel, table=True):
    """The time limit of one node of one kind; `id` is the last segment of
    `nodeTimeLimits/{id}` ("high-voltage-design-review")."""

    __tablename__ = "expansion_node_limits"

    id: str = Field(primary_key=True, max_length=63)
    application_kind: str = Field(max_length=32)
    node_kind: str = Field(max_length=32)
    sequence: int
    # Working days decide when above 0; else the calendar-time limit in seconds.
    working_days: int = Field(default=0)
    dual_supply_working_days: int = Field(default=0)
    time_limit_seconds: int = Field(default=0)
    reminder_lead_seconds: int = Field(default=0)
    version: int = Field(default=1)
    update_time: datetime = _time()


class ReminderRow(ExpansionModel, table=True):
    """A reminder sent about one node: its primary key makes each one happen once,
    whichever worker gets there first. `mark` is the share in percent ("50", "80") or
    "OVERDUE"."""

    __tablename__ = "expansion_reminders"

    application_id: str = Field(primary_key=True, max_length=63)
    seq: int = Field(primary_key=True)
    mark: str = Field(primary_key=True, max_length=16)
    send_time: datetime = _time()


class AttachmentRow(ExpansionModel, table=True):
    """A document attached to an application; `id` is the last segment of
    `applications/{application}/attachments/{attachment}`. The file is the blob of
    `sha256`."""

    __tablename__ = "expansion_attachments"
    __table_args__ = (
        Index("ix_expansion_attachments_application", "application_id", "create_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    application_id: str = Field(foreign_key="expansion_applications.id", max_length=63)
    # AttachmentKind / NodeKind names without the prefix.
    kind: str = Field(max_length=32)
    node: str = Field(max_length=32)
    display_name: str = Field(max_length=200)
    content_type: str = Field(max_length=32)
    size_bytes: int
    sha256: str = Field(foreign_key="expansion_blobs.sha256", max_length=64)
    uploader: str = Field(max_length=100)
    create_time: datetime = _time()


class BlobRow(ExpansionModel, table=True):
    """A stored file, once per content: its SHA-256 is its key."""

    __tablename__ = "expansion_blobs"

    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=32)
    size_bytes: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    create_time: datetime = _time()
