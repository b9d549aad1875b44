"""ListComplaintRisks and GetComplaintRisk for care staff: the scores of the supply
offices in their scope (every office, and subjects of none, with
`all_supply_offices`), highest score first, then most recently computed."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from servers.care.models import ComplaintRiskRow
from servers.care.risk_resources import risk_id, risk_resource
from servers.runtime import (
    NotFound,
    Runtime,
    paging,
    require_principal,
    require_supply_office_scope,
    supply_office_condition,
)

DEFAULT_PAGE = 50
# Highest score first, then most recently computed; ties by id.
_ORDER = (
    col(ComplaintRiskRow.score),
    col(ComplaintRiskRow.compute_time),
    col(ComplaintRiskRow.id),
)


class RiskReadMethods:
    """ListComplaintRisks, GetComplaintRisk."""

    runtime: Runtime

    def ListComplaintRisks(
        self, request: care_service_pb2.ListComplaintRisksRequest, context: Any
    ) -> care_service_pb2.ListComplaintRisksResponse:
        caller = require_principal()
        filters = [request.supply_office, request.min_score, request.subject]
        after = paging.decode_token(request.page_token, filters, types=(int, str, str))
        query = select(ComplaintRiskRow).where(
            supply_office_condition(caller, request.supply_office, ComplaintRiskRow.supply_office),
            col(ComplaintRiskRow.score) >= request.min_score,
        )
        if request.subject:
            query = query.where(ComplaintRiskRow.subject == request.subject)
        if after is not None:
            key = (after[0], paging.time_from_key(after[1]), after[2])
            query = query.where(paging.descending_after(_ORDER, key))
        size = paging.page_size(request.page_size, DEFAULT_PAGE)
        query = query.order_by(*(c.desc() for c in _ORDER)).limit(size + 1)
        with self.runtime.session() as session:
            rows = list(session.exec(query).all())
        return care_service_pb2.ListComplaintRisksResponse(
            complaint_risks=[risk_resource(r) for r in rows[:size]],
            next_page_token=paging.next_page_token(
                rows, size, lambda r: [r.score, paging.time_key(r.compute_time), r.id], filters
            ),
        )

    def GetComplaintRisk(
        self, request: care_service_pb2.GetComplaintRiskRequest, context: Any
    ) -> resources_pb2.ComplaintRisk:
        caller = require_principal()
        with self.runtime.session() as session:
            row = session.get(ComplaintRiskRow, risk_id(request.name))
            if row is None:
                raise NotFound(f"{request.name} not found")
            require_supply_office_scope(caller, row.supply_office)
            return risk_resource(row)
