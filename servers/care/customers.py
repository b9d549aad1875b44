"""The supply office of a customer (户号), from billing's customer archive.

Feedback about a customer is handled by the customer's supply office, and staff may
record feedback only for customers of their own offices; both need the office, which
billing owns. Care asks billing as itself (its mTLS service account): the caller's own
assertion does not carry the permission to read billing's internal API.
"""

from __future__ import annotations

from typing import Protocol

import grpc

from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from servers.care.upstream import upstream_unavailable
from servers.runtime import NotFound, Runtime, downstream_call_options

BILLING_TIMEOUT_SECONDS = 2.0


class CustomerOffices(Protocol):
    """Where to find a customer's supply office."""

    def supply_office(self, customer: str) -> str:
        """The supply office of `customer` ("customers/{id}"); NotFound when unknown,
        Unavailable when it cannot be asked."""
        ...


class BillingCustomerOffices:
    """Customer offices from billing's BatchGetCustomers."""

    def __init__(self, runtime: Runtime, timeout: float = BILLING_TIMEOUT_SECONDS) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def supply_office(self, customer: str) -> str:
        stub = billing_grpc.BillingInternalServiceStub(self._runtime.channel("billing"))
        options = downstream_call_options(default_timeout=self._timeout)
        try:
            reply = stub.BatchGetCustomers(
                billing_pb.BatchGetCustomersRequest(names=[customer]), **options.kwargs()
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"{customer} not found") from error
            raise upstream_unavailable("the customer archive cannot be reached") from error
        return str(reply.customers[0].supply_office)
