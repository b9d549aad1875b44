"""OutageInternalService: what the worker calls. RunClockJobs makes one pass of the
clock's jobs (`servers.outage.schedule.ClockJobs.run_due`), by this service's clock."""

from __future__ import annotations

import grpc

from palmgrid.outage.v1 import outage_internal_service_pb2 as internal_pb
from palmgrid.outage.v1 import outage_internal_service_pb2_grpc as internal_grpc
from servers.outage.process import OutageProcess


class OutageInternalServicer(internal_grpc.OutageInternalServiceServicer):
    """palmgrid.outage.v1.OutageInternalService."""

    def __init__(self, process: OutageProcess) -> None:
        self.process = process

    def RunClockJobs(
        self, request: internal_pb.RunClockJobsRequest, context: grpc.ServicerContext
    ) -> internal_pb.RunClockJobsResponse:
        done = self.process.jobs.run_due()
        return internal_pb.RunClockJobsResponse(
            started_count=done.started, ended_count=done.ended, reminded_count=done.reminded
        )
