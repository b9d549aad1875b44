"""Reading applications: one with its progress, a caller's list (an applicant's own,
staff's of their supply offices, the applicant's name, ID number and phone masked), the
due list of the staff's offices, and the reminder window for the worker (internal,
unmasked)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2
from palmgrid.type.v1 import identity_pb2
from palmlib.masking import mask_message
from servers.expansion.models import ApplicationRow, NodeRow
from servers.expansion.resources import enum_name, kind_name
from servers.expansion.store import load_row, message, messages
from servers.runtime import (
    Clock,
    Runtime,
    paging,
    require_principal,
    require_supply_office_scope,
    supply_office_condition,
)
from servers.runtime.protoconv import from_timestamp

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
_COLUMNS = ApplicationRow.__table__.c  # type: ignore[attr-defined]
NEWEST_FIRST = (_COLUMNS.create_time, _COLUMNS.id)
EARLIEST_DUE_FIRST = (_COLUMNS.current_due_time, _COLUMNS.id)


def _handled_by(
    query: SelectOfScalar[ApplicationRow], handler: str
) -> SelectOfScalar[ApplicationRow]:
    return query.where(
        col(ApplicationRow.id).in_(
            select(NodeRow.application_id).where(
                NodeRow.handler == handler, NodeRow.seq == ApplicationRow.current_seq
            )
        )
    )


def _for_list(
    caller: identity_pb2.Principal, page: list[resources_pb2.Application]
) -> list[resources_pb2.Application]:
    """`page` as a list shows it to `caller`: staff lists carry the applicant masked
    (opening one application shows it whole); an applicant's own list does not."""
    if caller.kind != CUSTOMER:
        for application in page:
            mask_message(application)
    return page


class ReadMethods:
    """GetApplication, ListApplications, ListDueApplications, ListApplicationsDueWithin."""

    runtime: Runtime
    clock: Clock

    def GetApplication(
        self, request: service_pb.GetApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        caller = require_principal()
        with self.runtime.session() as session:
            row = load_row(session, request.name)
            require_supply_office_scope(caller, row.supply_office, creator=row.creator)
            return message(session, row)

    def ListApplications(
        self, request: service_pb.ListApplicationsRequest, context: Any
    ) -> service_pb.ListApplicationsResponse:
        caller = require_principal()
        query = select(ApplicationRow)
        if caller.kind == CUSTOMER:
            query = query.where(ApplicationRow.creator == caller.user)
        else:
            query = query.where(
                supply_office_condition(caller, request.supply_office, ApplicationRow.supply_office)
            )
        kind = kind_name(request.kind) if request.kind else ""
        state = (
            enum_name(resources_pb2.ApplicationState, "APPLICATION_STATE_", request.state)
            if request.state
            else ""
        )
        handler = caller.user if request.handler == "users/me" else request.handler
        for column, value in ((ApplicationRow.kind, kind), (ApplicationRow.state, state)):
            if value:
                query = query.where(column == value)
        if handler:
            query = _handled_by(query, handler)
        filters = [request.supply_office, kind, state, handler]
        size = paging.page_size(request.page_size)
        after = paging.decode_token(request.page_token, filters, types=(str, str))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.descending_after(NEWEST_FIRST, key))
        query = query.order_by(*(c.desc() for c in NEWEST_FIRST)).limit(size + 1)
        with self.runtime.session() as session:
            rows = list(session.exec(query).all())
            token = paging.next_page_token(
                rows, size, lambda r: [paging.time_key(r.create_time), r.id], filters
            )
            page = messages(session, rows[:size])
        return service_pb.ListApplicationsResponse(
            applications=_for_list(caller, page), next_page_token=token
        )

    def _due_page(
        self,
        query: SelectOfScalar[ApplicationRow],
        page_token: str,
        page_size: int,
        filters: list[Any],
        default_size: int,
    ) -> tuple[list[resources_pb2.Application], str]:
        """A page of `query` (in-progress applications with a running clock), the
        earliest due first."""
        query = query.where(
            ApplicationRow.state == "IN_PROGRESS",
            col(ApplicationRow.current_due_time).is_not(None),
        )
        size = paging.page_size(page_size, default_size)
        after = paging.decode_token(page_token, filters, types=(str, str))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.ascending_after(EARLIEST_DUE_FIRST, key))
        query = query.order_by(*EARLIEST_DUE_FIRST).limit(size + 1)
        with self.runtime.session() as session:
            rows = list(session.exec(query).all())

            def key_of(row: ApplicationRow) -> list[str]:
                assert row.current_due_time is not None
                return [paging.time_key(row.current_due_time), row.id]

            token = paging.next_page_token(rows, size, key_of, filters)
            return messages(session, rows[:size]), token

    def ListDueApplications(
        self, request: service_pb.ListDueApplicationsRequest, context: Any
    ) -> service_pb.ListDueApplicationsResponse:
        caller = require_principal()
        now = self.clock.now()
        query = select(ApplicationRow).where(
            supply_office_condition(caller, request.supply_office, ApplicationRow.supply_office)
        )
        if request.overdue_only:
            query = query.where(col(ApplicationRow.current_due_time) <= now)
        elif request.HasField("due_within"):
            horizon = now + request.due_within.ToTimedelta()
            query = query.where(col(ApplicationRow.current_due_time) <= horizon)
        else:
            query = query.where(col(ApplicationRow.current_near_time) <= now)
        handler = caller.user if request.handler == "users/me" else request.handler
        if handler:
            query = _handled_by(query, handler)
        within = request.due_within.ToSeconds() if request.HasField("due_within") else -1
        filters = [request.supply_office, handler, request.overdue_only, within]
        page, token = self._due_page(query, request.page_token, request.page_size, filters, 50)
        return service_pb.ListDueApplicationsResponse(
            applications=_for_list(caller, page), next_page_token=token
        )

    def ListApplicationsDueWithin(
        self, request: service_pb.ListApplicationsDueWithinRequest, context: Any
    ) -> service_pb.ListApplicationsDueWithinResponse:
        end = from_timestamp(request.window_end_time)
        query = select(ApplicationRow).where(col(ApplicationRow.current_due_time) < end)
        start_key = ""
        if request.HasField("window_start_time"):
            start = from_timestamp(request.window_start_time)
            query = query.where(col(ApplicationRow.current_due_time) >= start)
            start_key = paging.time_key(start)
        filters = [start_key, paging.time_key(end)]
        page, token = self._due_page(query, request.page_token, request.page_size, filters, 100)
        return service_pb.ListApplicationsDueWithinResponse(
            applications=page, next_page_token=token
        )
