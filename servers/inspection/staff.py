"""Who may be assigned an inspection, and who in a supply office hears of its result.
The account service owns users, their roles and offices; inspection reads them through
its internal BatchGetUsers and admin ListUsers, as itself.

An assignee must be an active staff user holding the inspector role whose supply
offices cover the task's. A supply office is told of a completed inspection through
its inspection managers (the `inspection-manager` role covering the office).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_admin_service_pb2_grpc as admin_grpc
from palmgrid.account.v1 import account_internal_service_pb2 as account_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as account_grpc
from palmgrid.account.v1 import resources_pb2 as user_pb
from palmgrid.type.v1 import identity_pb2
from servers.inspection.upstream import call
from servers.runtime import FieldViolation, InvalidArgument, Runtime

INSPECTOR_ROLE = "roles/inspector"
MANAGER_ROLE = "roles/inspection-manager"


class Staff(Protocol):
    """Staff users as inspection needs them."""

    def require_inspectors(self, users: Sequence[str], supply_office: str, field: str) -> None:
        """Refuse with INVALID_ARGUMENT naming `field` unless every one of `users` is an
        active inspector covering `supply_office`."""
        ...

    def managers_of(self, supply_office: str) -> list[str]:
        """The active inspection managers covering `supply_office`, `users/{user}`."""
        ...

    def holding(self, role: str, supply_office: str) -> list[user_pb.User]:
        """The active staff holding `role` (`roles/{role}`) who cover `supply_office`."""
        ...


def _covers(user: user_pb.User, supply_office: str) -> bool:
    if user.supply_office_coverage == user_pb.SUPPLY_OFFICE_COVERAGE_ALL:
        return True
    return supply_office in user.supply_offices


def _refusal(user: user_pb.User, supply_office: str) -> str:
    """Why `user` cannot inspect in `supply_office` ("" when they can)."""
    if user.kind != identity_pb2.PRINCIPAL_KIND_STAFF:
        return "not a staff member"
    if user.state != user_pb.USER_STATE_ACTIVE:
        return "the user is disabled"
    if INSPECTOR_ROLE not in user.roles:
        return "not an inspector"
    if not _covers(user, supply_office):
        return f"does not cover supply office {supply_office}"
    return ""


class AccountStaff:
    """Staff from the account service."""

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def require_inspectors(self, users: Sequence[str], supply_office: str, field: str) -> None:
        stub = account_grpc.AccountInternalServiceStub(self._runtime.channel("account"))
        reply = call(
            "the account service",
            stub.BatchGetUsers,
            account_pb.BatchGetUsersRequest(names=list(users)),
            timeout=self._timeout,
            not_found=lambda error: InvalidArgument(
                f"an assignee is not a user: {error.details()}",
                field_violations=[FieldViolation(field, "no such user")],
            ),
        )
        violations = []
        for index, user in enumerate(reply.users):
            why = _refusal(user, supply_office)
            if why:
                violations.append(FieldViolation(f"{field}[{index}]", f"{user.name}: {why}"))
        if violations:
            first = violations[0]
            raise InvalidArgument(
                f"cannot be assigned the inspection: {first.description}",
                field_violations=violations,
            )

    def managers_of(self, supply_office: str) -> list[str]:
        return [user.name for user in self.holding(MANAGER_ROLE, supply_office)]

    def holding(self, role: str, supply_office: str) -> list[user_pb.User]:
        stub = admin_grpc.AccountAdminServiceStub(self._runtime.channel("account"))
        found: list[user_pb.User] = []
        token = ""
        while True:
            reply = call(
                "the account service",
                stub.ListUsers,
                admin_pb.ListUsersRequest(
                    page_size=1000,
                    page_token=token,
                    kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                    state=user_pb.USER_STATE_ACTIVE,
                    role=role,
                    supply_office=supply_office,
                ),
                timeout=self._timeout,
            )
            found.extend(reply.users)
            token = reply.next_page_token
            if not token:
                return found
