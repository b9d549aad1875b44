"""Care's jobs: the daily complaint-risk scoring (batch after batch of customers, then
the supply offices, and the managers' alerts), and closing resolved feedback its author
left unrated for the configured days. Both are made by the care service over gRPC."""

from __future__ import annotations

from palmgrid.care.v1 import care_service_pb2 as care_pb
from palmgrid.care.v1 import care_service_pb2_grpc as care_grpc
from servers.worker.job import Job, JobContext, RunCancelled, register

CLOSE_BATCH = 100


def close_resolved_feedback(context: JobContext) -> str:
    """Call CloseResolvedFeedback until nothing is left to close or the run is cancelled.
    The service picks what is due itself, so a repeated or interrupted run closes
    nothing twice."""
    stub = care_grpc.CareServiceStub(context.channel("care"))
    request = care_pb.CloseResolvedFeedbackRequest(max_feedback=CLOSE_BATCH)
    closed = 0
    while True:
        reply = stub.CloseResolvedFeedback(request, **context.call_options().kwargs())
        closed += reply.closed_count
        if not reply.remaining_count or not reply.closed_count or context.cancelled.is_set():
            break
    return f"{closed} resolved feedback closed, {reply.remaining_count} still due"


SCORING_BATCH = 500


def score_complaint_risks(context: JobContext) -> str:
    """Call ScoreComplaintRisks from the first customer until `done`. A run that stops
    part-way is run again in full: scoring the same customers again changes nothing."""
    stub = care_grpc.CareServiceStub(context.channel("care"))
    scored = offices = raised = notified = 0
    after, version = "", ""
    while True:
        reply = stub.ScoreComplaintRisks(
            care_pb.ScoreComplaintRisksRequest(after_customer=after, batch_size=SCORING_BATCH),
            **context.call_options().kwargs(),
        )
        scored += reply.scored_count
        offices += reply.office_count
        raised += reply.raised_count
        notified += reply.notified_count
        after, version = reply.last_customer, reply.model_version
        if reply.done:
            return (
                f"{version}: {scored} customers and {offices} supply offices scored, "
                f"{raised} rose to critical, {notified} alerts to care managers"
            )
        if context.cancelled.is_set():
            raise RunCancelled(f"stopped after {scored} customers")


register(
    Job(
        "care.close-resolved",
        "daily 03:00",
        close_resolved_feedback,
        "close resolved feedback left unrated for the configured days",
    )
)
register(
    Job(
        "care.complaint-risks",
        "daily 03:00",
        score_complaint_risks,
        "score customers' and supply offices' complaint risks; alert care managers",
    )
)
