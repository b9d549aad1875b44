"""CloseResolvedFeedback: the worker's daily call that closes resolved feedback whose
author has neither rated nor closed it within `PALMGRID_CARE_RESOLVED_CLOSE_DAYS` of its
resolution. Each is closed as a step of its history (actor: the calling service
account), oldest resolution first, in batches; rows another caller holds are skipped
(`SKIP LOCKED` on PostgreSQL), so replicas and repeated calls never close one twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from palmgrid.care.v1 import care_service_pb2
from servers.care import feedback_workflow
from servers.care.config import CareConfig
from servers.care.models import FeedbackRow, FeedbackState
from servers.runtime import Clock, Runtime, require_principal

DEFAULT_BATCH = 100
REASON = "已办结{days}天未评价，系统自动关闭"


class FeedbackClosingMethods:
    """CloseResolvedFeedback (internal)."""

    runtime: Runtime
    clock: Clock
    config: CareConfig

    def CloseResolvedFeedback(
        self, request: care_service_pb2.CloseResolvedFeedbackRequest, context: Any
    ) -> care_service_pb2.CloseResolvedFeedbackResponse:
        caller = require_principal()
        now = self.clock.now()
        days = self.config.resolved_close_days
        overdue = (
            col(FeedbackRow.state) == FeedbackState.RESOLVED.value,
            col(FeedbackRow.resolve_time) <= now - timedelta(days=days),
        )
        with self.runtime.session(write=True) as session:
            rows = session.exec(
                select(FeedbackRow)
                .where(*overdue)
                .order_by(col(FeedbackRow.resolve_time), col(FeedbackRow.id))
                .limit(request.max_feedback or DEFAULT_BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                feedback_workflow.record(
                    session,
                    row,
                    "CLOSED",
                    actor=caller.user,
                    actor_display_name=caller.username,
                    text=REASON.format(days=days),
                    now=now,
                )
            remaining = session.exec(select(func.count()).select_from(FeedbackRow).where(*overdue))
            return care_service_pb2.CloseResolvedFeedbackResponse(
                closed_count=len(rows), remaining_count=remaining.one()
            )
