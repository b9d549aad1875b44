"""Whether a staff member may be assigned feedback: they must be an active staff user
whose supply offices cover the feedback's office. The account service owns users and
their offices; care reads them through its internal BatchGetUsers, as itself."""

from __future__ import annotations

import grpc

from palmgrid.account.v1 import account_internal_service_pb2 as account_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as account_grpc
from palmgrid.account.v1 import resources_pb2 as user_pb
from palmgrid.type.v1 import identity_pb2
from servers.care.upstream import upstream_unavailable
from servers.runtime import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Runtime,
    downstream_call_options,
)

FIELD = "assignee"


def _refused(assignee: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"{assignee} cannot be assigned feedback: {why}",
        field_violations=[FieldViolation(FIELD, why)],
    )


def _user(runtime: Runtime, assignee: str, timeout: float) -> user_pb.User:
    stub = account_grpc.AccountInternalServiceStub(runtime.channel("account"))
    options = downstream_call_options(default_timeout=timeout)
    try:
        reply = stub.BatchGetUsers(
            account_pb.BatchGetUsersRequest(names=[assignee]), **options.kwargs()
        )
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise _refused(assignee, "no such user") from error
        raise upstream_unavailable("the assignee cannot be looked up") from error
    return reply.users[0]


def covers(user: user_pb.User, supply_office: str) -> bool:
    """Whether `user`'s coverage reaches `supply_office` ("" reaches only full coverage)."""
    if user.supply_office_coverage == user_pb.SUPPLY_OFFICE_COVERAGE_ALL:
        return True
    return bool(supply_office) and supply_office in user.supply_offices


def require_assignable(
    runtime: Runtime, assignee: str, supply_office: str, *, timeout: float
) -> None:
    """Refuse `assignee` for feedback of `supply_office`: INVALID_ARGUMENT naming
    `assignee` when no active staff user has that name, FAILED_PRECONDITION (with
    `field: assignee` in the ErrorInfo) when their offices do not cover it."""
    user = _user(runtime, assignee, timeout)
    if user.kind != identity_pb2.PRINCIPAL_KIND_STAFF:
        raise _refused(assignee, "not a staff member")
    if user.state != user_pb.USER_STATE_ACTIVE:
        raise _refused(assignee, "the user is disabled")
    if not covers(user, supply_office):
        office = supply_office or "feedback about no supply office"
        raise FailedPrecondition(
            f"{assignee} does not cover {office}",
            metadata={"field": FIELD, "supplyOffice": supply_office},
        )
