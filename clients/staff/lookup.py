"""Names staff type, turned into the resource names the services take."""

from __future__ import annotations

from clients.staff.errors import NOT_FOUND, CliError
from clients.staff.rpc import call
from palmgrid.account.v1 import account_admin_service_pb2 as admin_pb
from palmgrid.account.v1 import (
    account_admin_service_pb2_grpc,
    account_service_pb2,
    account_service_pb2_grpc,
)


def user_name(value: str) -> str:
    """`users/{id}` of a username ("agent"), or `value` itself when it is already a
    user's name or `users/me`, or "me". Looking a username up needs `account.users.list`."""
    if value.startswith("users/"):
        return value
    if value == "me":
        return "users/me"
    reply = call(
        "account",
        account_admin_service_pb2_grpc.AccountAdminServiceStub,
        "ListUsers",
        admin_pb.ListUsersRequest(username_prefix=value, page_size=50),
    )
    for user in reply.users:
        if user.username == value:
            return str(user.name)
    raise CliError(f"no user named {value!r}", NOT_FOUND)


def exact_user_name(value: str) -> str:
    """As `user_name`, with "me" turned into the caller's own `users/{id}`, for the
    fields a service keeps as given (an inspection's assignees)."""
    name = user_name(value)
    if name != "users/me":
        return name
    me = call(
        "account",
        account_service_pb2_grpc.AccountServiceStub,
        "GetUser",
        account_service_pb2.GetUserRequest(name="users/me"),
    )
    return str(me.name)
