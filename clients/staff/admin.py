"""Calls of the account service's admin API, shared by the administrators' groups
(`palm users`, `palm roles`, `palm params`, `palm audit`)."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from clients.staff.rpc import call
from palmgrid.account.v1 import account_admin_service_pb2_grpc


def admin_call(method: str, request: Message) -> Any:
    """`method` of AccountAdminService as the signed-in staff member."""
    return call("account", account_admin_service_pb2_grpc.AccountAdminServiceStub, method, request)
