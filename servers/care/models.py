"""The care service's tables: outlets, articles, feedback and its handling events.
Every name starts with `care_`, so the service can share a database with others; they
live in their own registry, so `metadata` is exactly the care schema.

Times are aware UTC in Python and naive UTC in the database (`servers.runtime.columns`).
Enumerations are stored by their proto name without the enum prefix ("PUBLISHED",
"BILL_PAYMENT"), so rows read the same as the API. Each resource carries a `version`,
bumped on every change, from which its etag is derived.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servers.runtime.columns import AutoBigInt, json_list_field, time_field


class CareModel(SQLModel, registry=registry()):
    """Base of every care table."""


metadata = CareModel.metadata


def _time(*, nullable: bool = False) -> Any:
    # The care tables were created with times without a zone (naive UTC).
    return time_field(nullable=nullable, timezone=False)


class OutletRow(CareModel, table=True):
    """A service outlet (营业厅); `id` is the last segment of `outlets/{outlet}`."""

    __tablename__ = "care_outlets"

    id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(max_length=100)
    address: str = Field(max_length=200)
    # WGS 84 degrees.
    latitude: float
    longitude: float
    phone: str = Field(default="", max_length=20)
    # [{"day": "MONDAY", "open": "08:30", "close": "17:30"}, ...] in local time.
    opening_hours: list[dict[str, str]] = json_list_field()
    hours_note: str = Field(default="", max_length=200)
    # OutletService names without the prefix, in the order given.
    services: list[str] = json_list_field()
    supply_office: str = Field(default="", max_length=32)
    version: int = Field(default=1)
    create_time: datetime = _time()
    update_time: datetime = _time()


class ArticleState(enum.StrEnum):
    """Where an article stands; the names of `palmgrid.care.v1.ArticleState`."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    WITHDRAWN = "WITHDRAWN"


class ArticleRow(CareModel, table=True):
    """A notice or news article; `id` is the last segment of `articles/{article}`."""

    __tablename__ = "care_articles"
    __table_args__ = (
        # The public list: published, pinned first, newest first.
        Index("ix_care_articles_public", "state", "pinned", "publish_time", "id"),
        # The editors' search: most recently changed first.
        Index("ix_care_articles_changed", "update_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    title: str = Field(max_length=200)
    summary: str = Field(default="", max_length=500)
    body: str = Field(sa_type=Text)
    # ArticleKind / ArticleState names without the prefix.
    kind: str = Field(max_length=16)
    state: str = Field(max_length=16)
    pinned: bool = Field(default=False)
    cover_image_uri: str = Field(default="", max_length=2048)
    # The editor who wrote it, `users/{user}`.
    author: str = Field(default="", max_length=100)
    publish_time: datetime | None = _time(nullable=True)
    withdraw_time: datetime | None = _time(nullable=True)
    withdraw_reason: str = Field(default="", max_length=500)
    version: int = Field(default=1)
    create_time: datetime = _time()
    update_time: datetime = _time()


class FeedbackState(enum.StrEnum):
    """Where the handling of feedback stands; the names of `FeedbackState`."""

    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class FeedbackRow(CareModel, table=True):
    """A complaint, report, suggestion, praise or inquiry; `id` is the last segment of
    `feedback/{feedback}`. Never edited: its handling is appended as events."""

    __tablename__ = "care_feedback"
    __table_args__ = (
        # A retried CreateFeedback finds the feedback its request id made.
        UniqueConstraint("author", "request_id", name="uq_care_feedback_request"),
        # Staff lists, newest first.
        Index("ix_care_feedback_office", "supply_office", "create_time", "id"),
        # A customer's own list, newest first.
        Index("ix_care_feedback_author", "author", "create_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=63)
    # FeedbackKind name without the prefix.
    kind: str = Field(max_length=16)
    # `customers/{customer}`, or "" when it concerns none.
    customer: str = Field(default="", max_length=20)
    content: str = Field(sa_type=Text)
    contact_name: str = Field(default="", max_length=50)
    contact_phone: str = Field(default="", max_length=20)
    # WGS 84 degrees, both or neither.
    latitude: float | None = None
    longitude: float | None = None
    address: str = Field(default="", max_length=200)
    # [{"content_type": "image/jpeg", "uri": "https://..."}, ...]
    photos: list[dict[str, str]] = json_list_field()
    state: str = Field(max_length=16)
    # `users/{user}` of the author and of the assigned care staff member ("" before).
    author: str = Field(max_length=100)
    supply_office: str = Field(default="", max_length=32)
    assignee: str = Field(default="", max_length=100)
    due_time: datetime = _time()
    resolution: str = Field(default="", sa_type=Text)
    rating: int = Field(default=0)
    rating_comment: str = Field(default="", max_length=500)
    # The CreateFeedback request id (None without one) and a hash of the feedback sent.
    request_id: str | None = Field(default=None, max_length=36)
    request_hash: str = Field(default="", max_length=64)
    version: int = Field(default=1)
    create_time: datetime = _time()
    update_time: datetime = _time()
    resolve_time: datetime | None = _time(nullable=True)
    close_time: datetime | None = _time(nullable=True)


class FeedbackEventRow(CareModel, table=True):
    """One step of the handling of feedback, in order of `id`."""

    __tablename__ = "care_feedback_events"
    __table_args__ = (Index("ix_care_feedback_events_feedback", "feedback_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(AutoBigInt, primary_key=True))
    feedback_id: str = Field(foreign_key="care_feedback.id", max_length=63)
    # FeedbackAction / FeedbackState names without the prefix.
    action: str = Field(max_length=16)
    actor: str = Field(default="", max_length=100)
    actor_display_name: str = Field(default="", max_length=64)
    text: str = Field(default="", sa_type=Text)
    state: str = Field(max_length=16)
    create_time: datetime = _time()


class ComplaintRiskRow(CareModel, table=True):
    """The current complaint-risk score of one subject (a customer, feedback or a supply
    office); `id` is the last segment of `complaintRisks/{complaint_risk}`.

    `alert_key` names the subject's latest rise to the top level; `alert_pending` says
    the office's care managers have not been told of it yet (set in the transaction that
    records the rise, cleared once the notification service has the message), so a rise
    is announced once however often the scoring runs.
    """

    __tablename__ = "care_complaint_risks"
    __table_args__ = (
        UniqueConstraint("subject", name="uq_care_complaint_risks_subject"),
        # Staff lists: highest score first, then most recently computed.
        Index("ix_care_complaint_risks_office", "supply_office", "score", "compute_time", "id"),
        Index("ix_care_complaint_risks_alert", "alert_pending"),
    )

    id: str = Field(primary_key=True, max_length=63)
    # `customers/{c}`, `feedback/{f}` or `supplyOffices/{o}`.
    subject: str = Field(max_length=100)
    # `customers/{customer}` concerned, "" for none.
    customer: str = Field(default="", max_length=20)
    supply_office: str = Field(default="", max_length=32)
    score: int
    # RiskLevel name without the prefix ("HIGH").
    level: str = Field(max_length=16)
    # [{"kind": "BILL_SPIKE", "points": 20, "description": "...", "figures": {...}}, ...]
    reasons: list[dict[str, Any]] = json_list_field()
    model_version: str = Field(default="", max_length=32)
    compute_time: datetime = _time()
    alert_key: str = Field(default="", max_length=160)
    alert_pending: bool = Field(default=False)
    alert_time: datetime | None = _time(nullable=True)
    version: int = Field(default=1)
    create_time: datetime = _time()
    update_time: datetime = _time()
