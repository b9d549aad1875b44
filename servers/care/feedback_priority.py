"""The agents' work list (ListFeedback with `order_by: "priority"`): open feedback
first, within it that of customers whose complaint risk is HIGH or above, then by due
time, so overdue tickets and those about to breach come before the rest; ties by id.

The customer's risk is the current score in `care_complaint_risks`, joined on the
customer, so a new scoring reorders the list at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case
from sqlmodel import Session, col, select

from servers.care.models import ComplaintRiskRow, FeedbackRow
from servers.care.risk_signals import HIGH_LEVELS, OPEN_STATES
from servers.runtime import paging

PRIORITY = "priority"


def _rank() -> Any:
    """0: open, customer at high risk; 1: open; 2: resolved or closed."""
    still_open = col(FeedbackRow.state).in_(OPEN_STATES)
    risky = col(ComplaintRiskRow.level).in_(HIGH_LEVELS)
    return case((and_(still_open, risky), 0), (still_open, 1), else_=2)


def priority_page(
    session: Session, query: Any, page_token: str, size: int, filters: list[Any]
) -> tuple[list[FeedbackRow], str]:
    """One page of `query` (a select of FeedbackRow with the list's filters) in priority
    order, and the next page's token."""
    after = paging.decode_token(page_token, filters, types=(int, str, str))
    rank = _rank()
    order = (rank, col(FeedbackRow.due_time), col(FeedbackRow.id))
    ranked = select(FeedbackRow, rank).outerjoin(
        ComplaintRiskRow, col(ComplaintRiskRow.subject) == col(FeedbackRow.customer)
    )
    if query.whereclause is not None:
        ranked = ranked.where(query.whereclause)
    if after is not None:
        key = (after[0], paging.time_from_key(after[1]), after[2])
        ranked = ranked.where(paging.ascending_after(order, key))
    rows = list(session.exec(ranked.order_by(*order).limit(size + 1)).all())
    token = paging.next_page_token(
        rows, size, lambda r: [int(r[1]), paging.time_key(r[0].due_time), r[0].id], filters
    )
    return [r[0] for r in rows[:size]], token
