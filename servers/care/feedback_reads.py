"""ListFeedback and GetFeedback, scoped: a customer sees the feedback they submitted;
care staff see the feedback of the supply offices in their scope (every office with
`all_supply_offices`, which is also the only way to see feedback routed to none).
Newest first, or by priority for the agents' work list (`servers.care.feedback_priority`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.care import feedback_workflow
from servers.care.feedback_priority import PRIORITY, priority_page
from servers.care.feedback_resources import (
    feedback_id,
    feedback_resource,
    kind_name,
    state_name,
)
from servers.care.models import FeedbackRow
from servers.runtime import (
    NotFound,
    Runtime,
    paging,
    require_principal,
    require_supply_office_scope,
    supply_office_condition,
)

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
_COLUMNS = FeedbackRow.__table__.c  # type: ignore[attr-defined]
# Newest first; ties by id.
_ORDER = (_COLUMNS.create_time, _COLUMNS.id)


class FeedbackReadMethods:
    """ListFeedback, GetFeedback."""

    runtime: Runtime

    def ListFeedback(
        self, request: care_service_pb2.ListFeedbackRequest, context: Any
    ) -> care_service_pb2.ListFeedbackResponse:
        caller = require_principal()
        query = select(FeedbackRow)
        if caller.kind == CUSTOMER:
            query = query.where(FeedbackRow.author == caller.user)
        else:
            query = query.where(
                supply_office_condition(caller, request.supply_office, FeedbackRow.supply_office)
            )
        assignee = caller.user if request.assignee == "users/me" else request.assignee
        kind = kind_name(request.kind) if request.kind else ""
        state = state_name(request.state) if request.state else ""
        for column, value in (
            (FeedbackRow.customer, request.customer),
            (FeedbackRow.assignee, assignee),
            (FeedbackRow.kind, kind),
            (FeedbackRow.state, state),
        ):
            if value:
                query = query.where(column == value)
        priority = request.order_by == PRIORITY
        filters = [request.supply_office, request.customer, assignee, kind, state]
        if priority:
            filters.append(PRIORITY)
        size = paging.page_size(request.page_size)
        if priority:
            with self.runtime.session() as session:
                page, next_token = priority_page(session, query, request.page_token, size, filters)
            return care_service_pb2.ListFeedbackResponse(
                feedback=[feedback_resource(r) for r in page], next_page_token=next_token
            )
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(_ORDER, key))
        query = query.order_by(*(c.desc() for c in _ORDER)).limit(size + 1)
        with self.runtime.session() as session:
            rows = list(session.exec(query).all())
        page = rows[:size]
        next_token = ""
        if len(rows) > size:
            last = page[-1]
            next_token = paging.encode_token([paging.time_key(last.create_time), last.id], filters)
        # Lists carry no history: GetFeedback has it.
        return care_service_pb2.ListFeedbackResponse(
            feedback=[feedback_resource(r) for r in page], next_page_token=next_token
        )

    def GetFeedback(
        self, request: care_service_pb2.GetFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session() as session:
            row = session.get(FeedbackRow, feedback_id(request.name))
            if row is None:
                raise NotFound(f"{request.name} not found")
            require_supply_office_scope(caller, row.supply_office, creator=row.author)
            return feedback_resource(row, feedback_workflow.history(session, row.id))
