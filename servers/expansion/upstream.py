"""What expansion asks of other services, as itself (its mTLS service account): a
customer's supply office and area from billing's archive, a staff member's offices and
an office's connection staff from account, and messages queued at the notification
outbox.

A service that cannot be asked makes the call fail with UNAVAILABLE
(UPSTREAM_UNAVAILABLE, retry in 5 s); nothing is changed then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc

from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import account_admin_service_pb2_grpc as admin_grpc
from palmgrid.account.v1 import account_internal_service_pb2 as account_pb
from palmgrid.account.v1 import account_internal_service_pb2_grpc as account_grpc
from palmgrid.account.v1 import resources_pb2 as user_pb
from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from palmgrid.type.v1 import identity_pb2
from servers.runtime import NotFound, Runtime, Unavailable, downstream_call_options

RETRY_AFTER = timedelta(seconds=5)


def upstream_unavailable(what: str) -> Unavailable:
    """UNAVAILABLE (UPSTREAM_UNAVAILABLE, retry in 5 s): `what` cannot be done right now."""
    return Unavailable(f"{what} right now", reason="UPSTREAM_UNAVAILABLE", retry_after=RETRY_AFTER)


@dataclass(frozen=True)
class CustomerPlace:
    """Where a customer is supplied from."""

    supply_office: str
    area_code: str


def customer_place(runtime: Runtime, customer: str, *, timeout: float) -> CustomerPlace:
    """The office and area of `customer` (`customers/{id}`) from billing; NotFound when
    billing does not know it."""
    stub = billing_grpc.BillingInternalServiceStub(runtime.channel("billing"))
    options = downstream_call_options(default_timeout=timeout)
    try:
        reply = stub.BatchGetCustomers(
            billing_pb.BatchGetCustomersRequest(names=[customer]), **options.kwargs()
        )
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(f"{customer} not found") from error
        raise upstream_unavailable("the customer archive cannot be reached") from error
    found = reply.customers[0]
    return CustomerPlace(supply_office=found.supply_office, area_code=found.area_code)


def staff_user(runtime: Runtime, user: str, *, timeout: float) -> user_pb.User | None:
    """The account service's user `user` (`users/{id}`), None when there is none."""
    stub = account_grpc.AccountInternalServiceStub(runtime.channel("account"))
    options = downstream_call_options(default_timeout=timeout)
    try:
        reply = stub.BatchGetUsers(
            account_pb.BatchGetUsersRequest(names=[user]), **options.kwargs()
        )
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise upstream_unavailable("the user cannot be looked up") from error
    return reply.users[0]


def queue_message(
    runtime: Runtime, message: message_pb.Message, request_id: str, *, timeout: float
) -> None:
    """Hand `message` to the notification outbox under `request_id` (a retry with the
    same id queues it once)."""
    stub = notification_grpc.NotificationServiceStub(runtime.channel("notification"))
    options = downstream_call_options(default_timeout=timeout)
    try:
        stub.CreateMessage(
            notification_pb.CreateMessageRequest(message=message, request_id=request_id),
            **options.kwargs(),
        )
    except grpc.RpcError as error:
        raise upstream_unavailable("the message cannot be queued") from error


def office_staff(runtime: Runtime, supply_office: str, role: str, *, timeout: float) -> list[str]:
    """The active staff holding `role` ("roles/expander") who cover `supply_office`,
    `users/{user}`, from the account service's ListUsers."""
    stub = admin_grpc.AccountAdminServiceStub(runtime.channel("account"))
    users: list[str] = []
    token = ""
    try:
        while True:
            options = downstream_call_options(default_timeout=timeout)
            reply = stub.ListUsers(
                admin_pb.ListUsersRequest(
                    page_size=1000,
                    page_token=token,
                    kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                    state=user_pb.USER_STATE_ACTIVE,
                    role=role,
                    supply_office=supply_office,
                ),
                **options.kwargs(),
            )
            users.extend(user.name for user in reply.users)
            token = reply.next_page_token
            if not token:
                return users
    except grpc.RpcError as error:
        raise upstream_unavailable("the office's staff cannot be looked up") from error
