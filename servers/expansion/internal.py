"""ExpansionInternalService: the worker's reminder run (`expansion.reminders` job)."""

from __future__ import annotations

from typing import Any

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as internal_pb
from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as internal_grpc
from servers.expansion.reminders import Reminders


class ExpansionInternalServicer(internal_grpc.ExpansionInternalServiceServicer):
    """palmgrid.expansion.v1.ExpansionInternalService."""

    def __init__(self, reminders: Reminders) -> None:
        self.reminders = reminders

    def RunReminders(
        self, request: internal_pb.RunRemindersRequest, context: Any
    ) -> internal_pb.RunRemindersResponse:
        sent = self.reminders.run()
        return internal_pb.RunRemindersResponse(
            share_reminded_count=sent.shares, overdue_reminded_count=sent.overdue
        )
