"""The billing service: its contract is declared and served; every RPC answers
UNIMPLEMENTED until its logic is built (see servers.runtime.declared)."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.billing.v1 import (
    billing_admin_service_pb2_grpc,
    billing_internal_service_pb2_grpc,
    billing_service_pb2_grpc,
)
from servers.runtime import Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared_only


def registrations(runtime: Runtime) -> Sequence[Registration]:
    return [
        declared_only(billing_service_pb2_grpc, "palmgrid.billing.v1.BillingService"),
        declared_only(billing_admin_service_pb2_grpc, "palmgrid.billing.v1.BillingAdminService"),
        declared_only(
            billing_internal_service_pb2_grpc, "palmgrid.billing.v1.BillingInternalService"
        ),
    ]


SPEC = ServiceSpec(name="billing", registrations=registrations)
