"""Connection node deadline reminders: the expansion service reminds the staff of each
running node at the configured shares of its limit and when it is overdue, by its own
clock, through its internal RunReminders (each reminder once, however many workers
call it)."""

from __future__ import annotations

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as expansion_pb
from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as expansion_grpc
from servers.worker.job import Job, JobContext, register


def run_expansion_reminders(context: JobContext) -> str:
    """Ask the expansion service to send the reminders the clock has made due."""
    stub = expansion_grpc.ExpansionInternalServiceStub(context.channel("expansion"))
    reply = stub.RunReminders(expansion_pb.RunRemindersRequest(), **context.call_options().kwargs())
    return (
        f"{reply.share_reminded_count} share reminders, "
        f"{reply.overdue_reminded_count} overdue reminders sent"
    )


register(
    Job(
        "expansion.reminders",
        "every 60s",
        run_expansion_reminders,
        "remind connection staff of node deadlines (50%, 80%, overdue)",
    )
)
