"""The outage service's tables: outages, their change feed and the notices still to be
delivered. Every name starts with `outage_`, so the service can share a database with
others; they live in their own registry, so `metadata` is exactly the outage schema.

Times are aware UTC (`timestamp with time zone`). Enumerations are stored by their proto
name without the enum prefix ("PLANNED", "SCHEDULED"), so rows read the same as the API.
An outage carries a `version`, bumped on every change, from which its etag is derived.

A change to an outage writes, in the same transaction, one `outage_changes` row (what
watch streams send, in order of `seq`) and, when customers must hear of it, one
`outage_notices` row (the outbox the notice dispatcher delivers from), so a crash after
the commit loses neither.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, json_list_field, time_field


class OutageModel(SQLModel, registry=registry()):
    """Base of every outage table."""


metadata = OutageModel.metadata


class OutageKind(enum.StrEnum):
    """The names of `palmgrid.outage.v1.OutageKind`."""

    PLANNED = "PLANNED"
    UNPLANNED = "UNPLANNED"


class OutageState(enum.StrEnum):
    """The names of `palmgrid.outage.v1.OutageState`."""

    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    RESTORED = "RESTORED"
    CANCELLED = "CANCELLED"


# Upcoming and current: what lists and watches show by default.
OPEN_STATES = (OutageState.SCHEDULED.value, OutageState.ACTIVE.value)


class OutageRow(OutageModel, table=True):
    """An outage; `id` is the last segment of `outages/{outage}`."""

    __tablename__ = "outage_outages"
    __table_args__ = (
        # A retried CreateOutage finds the outage its request id made.
        UniqueConstraint("creator", "request_id", name="uq_outage_outages_request"),
        # Lists: by state, soonest start first.
        Index("ix_outage_outages_state_start", "state", "start_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    kind: str = Field(max_length=16)
    state: str = Field(max_length=16)
    # Transformer area codes (台区), sorted.
    area_codes: list[str] = json_list_field()
    area_description: str = Field(default="", max_length=2000)
    start_time: datetime = time_field()
    end_time: datetime | None = time_field(nullable=True)
    estimated_restore_time: datetime | None = time_field(nullable=True)
    restore_time: datetime | None = time_field(nullable=True)
    reason: str = Field(max_length=500)
    supply_office: str = Field(max_length=32)
    urgent: bool = Field(default=False)
    urgent_reason: str = Field(default="", max_length=500)
    cancel_reason: str = Field(default="", max_length=500)
    restore_note: str = Field(default="", max_length=500)
    affected_customer_count: int = Field(default=0)
    # Who announced it, `users/{user}` or `serviceAccounts/{account}`.
    creator: str = Field(max_length=100)
    # The CreateOutage request id and a hash of the outage it announced.
    request_id: str | None = Field(default=None, max_length=36)
    request_hash: str = Field(default="", max_length=64)
    # When the 24-hour reminder of a planned outage was queued (None before).
    remind_time: datetime | None = time_field(nullable=True)
    version: int = Field(default=1)
    create_time: datetime = time_field()
    update_time: datetime = time_field()


class ChangeRow(OutageModel, table=True):
    """One change of an outage, as watch streams send it; `seq` orders the feed."""

    __tablename__ = "outage_changes"
    # Sequence numbers are cursors clients hold: never reused, even on SQLite once the
    # newest rows are gone (without AUTOINCREMENT it reuses the largest rowid).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    outage_id: str = Field(max_length=63, index=True)
    # OutageChangeKind name without the prefix ("ANNOUNCED").
    kind: str = Field(max_length=16)
    # The serialized palmgrid.outage.v1.Outage as it was after the change.
    outage: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    change_time: datetime = time_field()


class NoticeRow(OutageModel, table=True):
    """A message owed to the customers of some areas about an outage (the outbox)."""

    __tablename__ = "outage_notices"
    __table_args__ = (Index("ix_outage_notices_pending", "deliver_time", "next_attempt_time"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    outage_id: str = Field(max_length=63)
    # What happened: ANNOUNCED, UPDATED, CANCELLED, RESTORED or REMINDER.
    event: str = Field(max_length=16)
    # Whose customers hear of it: the outage's areas (before and after, for a change).
    area_codes: list[str] = json_list_field()
    title: str = Field(max_length=64)
    body: str = Field(max_length=2000)
    create_time: datetime = time_field()
    # When it was delivered (None while pending), and when to try again after a failure.
    deliver_time: datetime | None = time_field(nullable=True)
    next_attempt_time: datetime = time_field()
    attempts: int = Field(default=0)
    recipient_count: int = Field(default=0)
    last_error: str = Field(default="", max_length=500)
