"""ExpansionInternalService: the worker's reminder run (`expansion.reminders` job) and
the marketing system's steps recorded through ingest (`steps`)."""

from __future__ import annotations

from typing import Any

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as internal_pb
from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as internal_grpc
from servers.expansion.reminders import Reminders
from servers.expansion.steps import Steps


class ExpansionInternalServicer(internal_grpc.ExpansionInternalServiceServicer):
    """palmgrid.expansion.v1.ExpansionInternalService."""

    def __init__(self, reminders: Reminders, steps: Steps) -> None:
        self.reminders = reminders
        self.steps = steps

    def RunReminders(
        self, request: internal_pb.RunRemindersRequest, context: Any
    ) -> internal_pb.RunRemindersResponse:
        sent = self.reminders.run()
        return internal_pb.RunRemindersResponse(
            share_reminded_count=sent.shares, overdue_reminded_count=sent.overdue
        )

    def RecordApplicationStep(
        self, request: internal_pb.RecordApplicationStepRequest, context: Any
    ) -> internal_pb.RecordApplicationStepResponse:
        return self.steps.record(request)
