"""Recording a subject's score: one current row per subject, replaced by newer
computations only, and the rise to the top level marked for the managers' alert in the
same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from servers.care.models import ComplaintRiskRow
from servers.care.risk_model import TOP_LEVEL
from servers.care.risk_resources import risk_name
from servers.runtime.ids import new_id


@dataclass(frozen=True)
class Recorded:
    """The subject's row after recording, and whether this record raised it to the
    top level."""

    row: ComplaintRiskRow
    raised: bool


@dataclass(frozen=True)
class NewScore:
    """A computed score of one subject."""

    subject: str
    customer: str
    supply_office: str
    score: int
    level: str
    reasons: list[dict[str, Any]]
    model_version: str
    compute_time: datetime


def alert_key(row: ComplaintRiskRow) -> str:
    """The name of the row's current rise to the top level (also the notification's
    event): one per rise, so a rise is announced once."""
    return f"{risk_name(row.id)}/critical/{int(row.compute_time.timestamp())}"


def record(session: Session, score: NewScore, now: datetime) -> Recorded:
    """Record `score` in the caller's transaction, unless the subject's current score
    was computed later. A score that reaches the top level from below (or first) marks
    an alert pending; one below the top level drops a pending alert."""
    row = _current_row(session, score.subject)
    if row is not None and row.compute_time > score.compute_time:
        return Recorded(row, raised=False)
    before = row.level if row is not None else ""
    if row is None:
        row = _first_row(session, score.subject, now)
        before = row.level
        if row.compute_time > score.compute_time:
            return Recorded(row, raised=False)
    changed = (row.score, row.level, row.reasons) != (score.score, score.level, score.reasons)
    row.customer = score.customer
    row.supply_office = score.supply_office
    row.score = score.score
    row.level = score.level
    row.reasons = score.reasons
    row.model_version = score.model_version
    row.compute_time = score.compute_time
    if changed:
        row.version += 1 if before else 0
        row.update_time = now
    raised = score.level == TOP_LEVEL and before != TOP_LEVEL
    if raised:
        row.alert_pending = True
        row.alert_key = alert_key(row)
    elif score.level != TOP_LEVEL:
        row.alert_pending = False
    session.add(row)
    session.flush()
    return Recorded(row, raised)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _current_row(session: Session, subject: str) -> ComplaintRiskRow | None:
    query = select(ComplaintRiskRow).where(ComplaintRiskRow.subject == subject)
    return session.exec(query.with_for_update()).first()


def _first_row(session: Session, subject: str, now: datetime) -> ComplaintRiskRow:
    """A new row for `subject`, or, when a concurrent scoring inserted one first (the
    unique subject), that row, locked: two scorings of one subject never fail."""
    # A placeholder the caller fills in as it would an existing row's: computed at the
    # epoch, so any score is newer, and with no level, so reaching the top is a rise.
    row = ComplaintRiskRow(
        id=new_id(),
        subject=subject,
        score=0,
        level="",
        compute_time=_EPOCH,
        create_time=now,
        update_time=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        existing = _current_row(session, subject)
        if existing is None:
            raise
        return existing
