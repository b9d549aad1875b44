"""The outage clock: scheduled outages start, planned ones end, and subscribers are
reminded of a planned outage a day before it starts, all by the outage service's clock
through its internal RunClockJobs (idempotent, so a repeated or concurrent run moves
nothing twice)."""

from __future__ import annotations

from palmgrid.outage.v1 import outage_internal_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_internal_service_pb2_grpc as outage_grpc
from servers.worker.job import Job, JobContext, register


def run_outage_clock(context: JobContext) -> str:
    """Ask the outage service to make the clock's due moves and reminders."""
    stub = outage_grpc.OutageInternalServiceStub(context.channel("outage"))
    reply = stub.RunClockJobs(outage_pb.RunClockJobsRequest(), **context.call_options().kwargs())
    return (
        f"{reply.started_count} outages started, {reply.ended_count} ended, "
        f"{reply.reminded_count} reminders queued"
    )


register(
    Job(
        "outage.clock",
        "every 30s",
        run_outage_clock,
        "start and end outages by the clock, queue the 24-hour reminders",
    )
)
