"""The account service: its contract is declared and served; every RPC answers
UNIMPLEMENTED until its logic is built (see servers.runtime.declared)."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.account.v1 import (
    account_admin_service_pb2_grpc,
    account_internal_service_pb2_grpc,
    account_service_pb2_grpc,
)
from servers.runtime import Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared_only


def registrations(runtime: Runtime) -> Sequence[Registration]:
    return [
        declared_only(account_service_pb2_grpc, "palmgrid.account.v1.AccountService"),
        declared_only(account_admin_service_pb2_grpc, "palmgrid.account.v1.AccountAdminService"),
        declared_only(
            account_internal_service_pb2_grpc, "palmgrid.account.v1.AccountInternalService"
        ),
    ]


SPEC = ServiceSpec(name="account", registrations=registrations)
