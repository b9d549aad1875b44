"""The handling of feedback as data: which step may follow which state, and the state
it leaves the feedback in. Every step is recorded as an event in the history."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from servers.care.models import FeedbackEventRow, FeedbackRow
from servers.care.models import FeedbackState as S
from servers.runtime import FailedPrecondition

# action → {state before: state after}. A state missing for an action refuses it.
TRANSITIONS: dict[str, dict[S, S]] = {
    # Assigning takes submitted feedback on; reassigning keeps the state.
    "ASSIGNED": {S.SUBMITTED: S.ACCEPTED, S.ACCEPTED: S.ACCEPTED, S.IN_PROGRESS: S.IN_PROGRESS},
    "REPLIED": {S.ACCEPTED: S.IN_PROGRESS, S.IN_PROGRESS: S.IN_PROGRESS},
    "RESOLVED": {S.ACCEPTED: S.RESOLVED, S.IN_PROGRESS: S.RESOLVED},
    "RATED": {S.RESOLVED: S.CLOSED},
    "CLOSED": {s: S.CLOSED for s in S if s is not S.CLOSED},
}


def next_state(action: str, row: FeedbackRow) -> S:
    """The state `action` leaves `row` in; FAILED_PRECONDITION when it may not follow."""
    after = TRANSITIONS[action].get(S(row.state))
    if after is None:
        state = row.state.lower().replace("_", " ")
        raise FailedPrecondition(f"feedback/{row.id} is {state}: cannot be {action.lower()}")
    return after


def record(
    session: Session,
    row: FeedbackRow,
    action: str,
    *,
    actor: str,
    actor_display_name: str,
    text: str,
    now: datetime,
) -> None:
    """Move `row` on by `action` (checked against TRANSITIONS) and append the event."""
    row.state = next_state(action, row).value
    row.version += 1
    row.update_time = now
    if row.state == S.CLOSED.value:
        row.close_time = now
    session.add(row)
    session.add(event(row, action, actor=actor, actor_display_name=actor_display_name, text=text))
    session.flush()


def event(
    row: FeedbackRow, action: str, *, actor: str, actor_display_name: str, text: str = ""
) -> FeedbackEventRow:
    """The history entry of `action` on `row`, which is already in its new state."""
    return FeedbackEventRow(
        feedback_id=row.id,
        action=action,
        actor=actor,
        actor_display_name=actor_display_name,
        text=text,
        state=row.state,
        create_time=row.update_time,
    )


def history(session: Session, feedback_id: str) -> list[FeedbackEventRow]:
    """The events of feedback `feedback_id`, oldest first."""
    query = (
        select(FeedbackEventRow)
        .where(FeedbackEventRow.feedback_id == feedback_id)
        .order_by(col(FeedbackEventRow.id))
    )
    return list(session.exec(query).all())
