"""Notification delivery: have the notification service make its due deliveries."""

from __future__ import annotations

import time

from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from servers.worker.job import Job, JobContext, register

BATCH = 100
# One run delivers for at most this long, so the lease and the status stay fresh;
# what is left waits for the next run, seconds later.
RUN_BUDGET_SECONDS = 50.0


def deliver_due_messages(context: JobContext) -> str:
    """Call DeliverDueMessages until nothing is due, the budget is spent or the run is
    cancelled. The service claims deliveries itself, so replicas never send one twice."""
    stub = notification_grpc.NotificationServiceStub(context.channel("notification"))
    request = notification_pb.DeliverDueMessagesRequest(max_deliveries=BATCH)
    attempted = delivered = retried = failed = 0
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    while True:
        reply = stub.DeliverDueMessages(request, **context.call_options().kwargs())
        attempted += reply.attempted_count
        delivered += reply.delivered_count
        retried += reply.retry_count
        failed += reply.failed_count
        done = not reply.remaining_count or not reply.attempted_count
        if done or context.cancelled.is_set() or time.monotonic() > deadline:
            break
    return (
        f"{attempted} attempted, {delivered} delivered, {retried} to retry, "
        f"{failed} failed, {reply.remaining_count} still due"
    )


register(
    Job(
        "notification.delivery",
        "every 10s",
        deliver_due_messages,
        "send due SMS, push and in-app messages",
    )
)
