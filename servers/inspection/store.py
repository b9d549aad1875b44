"""Reading inspection tasks with their assignees, and replacing the assignees."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, delete, select

from servers.inspection.models import AssigneeRow, InspectionRow
from servers.runtime import NotFound


def assignees_of(session: Session, inspection_id: str) -> list[str]:
    """The task's assignees, `users/{user}`, in the order they were given."""
    query = (
        select(AssigneeRow)
        .where(col(AssigneeRow.inspection_id) == inspection_id)
        .order_by(col(AssigneeRow.position))
    )
    return [row.user for row in session.exec(query)]


def assignees_by_task(session: Session, inspection_ids: Sequence[str]) -> dict[str, list[str]]:
    """The assignees of several tasks, each list in the order given."""
    found: dict[str, list[str]] = {i: [] for i in inspection_ids}
    query = (
        select(AssigneeRow)
        .where(col(AssigneeRow.inspection_id).in_(list(inspection_ids)))
        .order_by(col(AssigneeRow.inspection_id), col(AssigneeRow.position))
    )
    for row in session.exec(query):
        found[row.inspection_id].append(row.user)
    return found


def load_task(
    session: Session, inspection_id: str, *, for_update: bool = False
) -> tuple[InspectionRow, list[str]]:
    """The task and its assignees (the row locked with `for_update`); NotFound."""
    row = session.get(InspectionRow, inspection_id, with_for_update=for_update)
    if row is None:
        raise NotFound(f"inspections/{inspection_id} not found")
    return row, assignees_of(session, inspection_id)


def replace_assignees(session: Session, inspection_id: str, users: Sequence[str]) -> None:
    session.exec(delete(AssigneeRow).where(col(AssigneeRow.inspection_id) == inspection_id))  # type: ignore[call-overload]
    for position, user in enumerate(users):
        session.add(AssigneeRow(inspection_id=inspection_id, user=user, position=position))
    session.flush()
