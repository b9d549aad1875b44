"""Care: close resolved feedback its author left unrated for the configured days."""

from __future__ import annotations

from palmgrid.care.v1 import care_service_pb2 as care_pb
from palmgrid.care.v1 import care_service_pb2_grpc as care_grpc
from servers.worker.job import Job, JobContext, register

BATCH = 100


def close_resolved_feedback(context: JobContext) -> str:
    """Call CloseResolvedFeedback until nothing is left to close or the run is cancelled.
    The service picks what is due itself, so a repeated or interrupted run closes
    nothing twice."""
    stub = care_grpc.CareServiceStub(context.channel("care"))
    request = care_pb.CloseResolvedFeedbackRequest(max_feedback=BATCH)
    closed = 0
    while True:
        reply = stub.CloseResolvedFeedback(request, **context.call_options().kwargs())
        closed += reply.closed_count
        if not reply.remaining_count or not reply.closed_count or context.cancelled.is_set():
            break
    return f"{closed} resolved feedback closed, {reply.remaining_count} still due"


register(
    Job(
        "care.close-resolved",
        "daily 03:00",
        close_resolved_feedback,
        "close resolved feedback left unrated for the configured days",
    )
)
