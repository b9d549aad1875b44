"""The reads of OutageService: the public list and page of outages, a customer's
outages, and the internal list by areas.

Public reads are cached by the edge for everyone under the tag `outages`, which every
committed change bumps (`servers.outage.changes`). Lists are soonest start first, upcoming and
current (SCHEDULED, ACTIVE) unless states are asked for, paged by (start_time, id).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.outage.models import OPEN_STATES, OutageRow
from servers.outage.process import OutageProcess
from servers.outage.resources import kind_name, outage_id, outage_resource, state_name
from servers.runtime import NotFound, current_principal, paging, require_customer_scope
from servers.runtime.protoconv import from_timestamp

_COLUMNS = OutageRow.__table__.c  # type: ignore[attr-defined]
_ORDER = (_COLUMNS.start_time, _COLUMNS.id)


def _states(asked: Sequence[int]) -> list[str]:
    return sorted(state_name(s) for s in asked) if asked else list(OPEN_STATES)


def _in_areas(area_codes: Sequence[str]) -> Any:
    # Area codes are stored as a JSON list; its text holds `"A01"` exactly when A01 is
    # listed (codes are [A-Z0-9] only), on SQLite and PostgreSQL alike.
    text = cast(col(OutageRow.area_codes), String)
    return or_(*(text.like(f'%"{code}"%') for code in area_codes))


def _window(
    query: SelectOfScalar[OutageRow], start: datetime | None, end: datetime | None
) -> SelectOfScalar[OutageRow]:
    if start is not None:
        back = func.coalesce(
            col(OutageRow.restore_time),
            col(OutageRow.end_time),
            col(OutageRow.estimated_restore_time),
        )
        query = query.where(or_(back.is_(None), back >= start))
    if end is not None:
        query = query.where(col(OutageRow.start_time) < end)
    return query


def _time(message: Any, field: str) -> datetime | None:
    return from_timestamp(getattr(message, field)) if message.HasField(field) else None


class ReadMethods:
    """ListOutages, GetOutage, ListCustomerOutages, ListAreaOutages."""

    process: OutageProcess

    def _page(
        self,
        query: SelectOfScalar[OutageRow],
        filters: list[Any],
        token: str,
        size: int,
    ) -> tuple[list[resources_pb2.Outage], str]:
        after = paging.decode_token(token, filters, types=(str, str))
        if after is not None:
            key = (paging.time_from_key(after[0]), after[1])
            query = query.where(paging.ascending_after(_ORDER, key))
        query = query.order_by(*_ORDER).limit(size + 1)
        with self.process.runtime.session() as session:
            rows = list(session.exec(query).all())
            outages = [outage_resource(row) for row in rows[:size]]
        token_out = paging.next_page_token(
            rows, size, lambda row: [paging.time_key(row.start_time), row.id], filters
        )
        return outages, token_out

    def ListOutages(
        self, request: outage_service_pb2.ListOutagesRequest, context: Any
    ) -> outage_service_pb2.ListOutagesResponse:
        states = _states(request.states)
        kind = kind_name(request.kind) if request.kind else None
        start = _time(request, "window_start_time")
        end = _time(request, "window_end_time")
        filters = [request.area_code, kind, states, start, end]
        query = select(OutageRow).where(col(OutageRow.state).in_(states))
        if request.area_code:
            query = query.where(_in_areas([request.area_code]))
        if kind is not None:
            query = query.where(col(OutageRow.kind) == kind)
        query = _window(query, start, end)
        outages, token = self._page(
            query, filters, request.page_token, paging.page_size(request.page_size, 50)
        )
        return outage_service_pb2.ListOutagesResponse(outages=outages, next_page_token=token)

    def GetOutage(
        self, request: outage_service_pb2.GetOutageRequest, context: Any
    ) -> resources_pb2.Outage:
        with self.process.runtime.session() as session:
            row = session.get(OutageRow, outage_id(request.name))
            if row is None:
                raise NotFound(f"{request.name} not found")
            return outage_resource(row)

    def ListCustomerOutages(
        self, request: outage_service_pb2.ListCustomerOutagesRequest, context: Any
    ) -> outage_service_pb2.ListCustomerOutagesResponse:
        principal = current_principal()
        states = _states(request.states)
        filters = [request.parent, states]
        paging.decode_token(request.page_token, filters, types=(str, str))
        if principal is None or principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER:
            # A customer's own bindings decide without asking billing.
            require_customer_scope(principal, request.parent)
        place = self.process.customers.place_of(request.parent)
        require_customer_scope(principal, request.parent, place.supply_office)
        query = select(OutageRow).where(
            col(OutageRow.state).in_(states), _in_areas([place.area_code])
        )
        outages, token = self._page(
            query, filters, request.page_token, paging.page_size(request.page_size, 50)
        )
        return outage_service_pb2.ListCustomerOutagesResponse(
            outages=outages, next_page_token=token
        )

    def ListAreaOutages(
        self, request: outage_service_pb2.ListAreaOutagesRequest, context: Any
    ) -> outage_service_pb2.ListAreaOutagesResponse:
        states = _states(request.states)
        start = _time(request, "window_start_time")
        end = _time(request, "window_end_time")
        areas = sorted(request.area_codes)
        filters = [areas, states, start, end]
        query = select(OutageRow).where(col(OutageRow.state).in_(states), _in_areas(areas))
        query = _window(query, start, end)
        outages, token = self._page(
            query, filters, request.page_token, paging.page_size(request.page_size, 100)
        )
        return outage_service_pb2.ListAreaOutagesResponse(outages=outages, next_page_token=token)
