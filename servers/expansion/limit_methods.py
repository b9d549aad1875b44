"""The node time limits table: everyone may read it (ListNodeTimeLimits); admins change
a node's limit (UpdateNodeTimeLimit, with the etag of what they read). A change applies
to nodes that begin after it; nodes already begun keep the due time they were given."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2
from servers.expansion.models import NodeLimitRow
from servers.expansion.resources import LIMITS, kind_name, limit_message
from servers.runtime import (
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Runtime,
    audit_note,
    paging,
)
from servers.runtime.etags import check_etag
from servers.runtime.update_masks import fields_to_update

UPDATABLE = ("time_limit", "working_days", "dual_supply_working_days", "reminder_lead_time")
_COLUMNS = NodeLimitRow.__table__.c  # type: ignore[attr-defined]
BY_KIND_THEN_SEQUENCE = (_COLUMNS.application_kind, _COLUMNS.sequence)


def _apply(row: NodeLimitRow, sent: resources_pb2.NodeTimeLimit, field: str) -> None:
    if field == "time_limit":
        row.time_limit_seconds = int(sent.time_limit.ToSeconds())
    elif field == "reminder_lead_time":
        row.reminder_lead_seconds = int(sent.reminder_lead_time.ToSeconds())
    else:
        setattr(row, field, getattr(sent, field))


def _check(row: NodeLimitRow) -> None:
    """Refuse a limit that leaves the node without one, or whose reminder lead is not
    shorter than a calendar-time limit."""
    if not row.working_days and not row.time_limit_seconds:
        raise InvalidArgument(
            "a node needs working_days or a time_limit",
            field_violations=[FieldViolation("nodeTimeLimit.workingDays", "0 with no timeLimit")],
        )
    if not row.working_days and row.reminder_lead_seconds >= row.time_limit_seconds:
        raise InvalidArgument(
            "reminder_lead_time must be shorter than time_limit",
            field_violations=[
                FieldViolation("nodeTimeLimit.reminderLeadTime", "not shorter than timeLimit")
            ],
        )


class LimitMethods:
    """ListNodeTimeLimits, UpdateNodeTimeLimit."""

    runtime: Runtime
    clock: Clock

    def ListNodeTimeLimits(
        self, request: service_pb.ListNodeTimeLimitsRequest, context: Any
    ) -> service_pb.ListNodeTimeLimitsResponse:
        kind = kind_name(request.application_kind) if request.application_kind else ""
        query = select(NodeLimitRow)
        if kind:
            query = query.where(NodeLimitRow.application_kind == kind)
        size = paging.page_size(request.page_size, 100)
        after = paging.decode_token(request.page_token, [kind], types=(str, int))
        if after is not None:
            query = query.where(paging.ascending_after(BY_KIND_THEN_SEQUENCE, after))
        query = query.order_by(*BY_KIND_THEN_SEQUENCE).limit(size + 1)
        with self.runtime.session() as session:
            rows = list(session.exec(query).all())
        token = paging.next_page_token(
            rows, size, lambda r: [r.application_kind, r.sequence], [kind]
        )
        return service_pb.ListNodeTimeLimitsResponse(
            node_time_limits=[limit_message(r) for r in rows[:size]], next_page_token=token
        )

    def UpdateNodeTimeLimit(
        self, request: service_pb.UpdateNodeTimeLimitRequest, context: Any
    ) -> resources_pb2.NodeTimeLimit:
        sent = request.node_time_limit
        fields = fields_to_update(request.update_mask, sent, UPDATABLE)
        with self.runtime.session(write=True) as session:
            row = session.get(NodeLimitRow, LIMITS.id(sent.name), with_for_update=True)
            if row is None:
                raise NotFound(f"{sent.name} not found")
            check_etag(sent.etag, sent.name, row.version)
            for field in fields:
                _apply(row, sent, field)
            _check(row)
            row.version += 1
            row.update_time = self.clock.now()
            session.add(row)
            session.flush()
            audit_note().details = {"fields": ",".join(fields)}
            return limit_message(row)
