"""Housekeeping: expired captchas and lapsed sessions in the account service."""

from __future__ import annotations

from palmgrid.account.v1 import account_internal_service_pb2 as account_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as account_grpc
from servers.worker.job import Job, JobContext, register


def purge_expired(context: JobContext) -> str:
    """Ask the account service to purge captchas and expire lapsed sessions."""
    stub = account_grpc.AccountInternalServiceStub(context.channel("account"))
    reply = stub.PurgeExpired(account_pb.PurgeExpiredRequest(), **context.call_options().kwargs())
    return (
        f"{reply.deleted_captcha_count} captchas deleted, "
        f"{reply.expired_session_count} sessions expired"
    )


register(
    Job(
        "account.housekeeping",
        "every 15m",
        purge_expired,
        "delete expired captchas, expire lapsed sessions",
    )
)
