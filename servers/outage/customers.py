"""Customers (户号) from billing: those supplied from some areas, and one customer's area
and supply office. Outage asks billing's internal API as itself (its mTLS service
account), never billing's tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc

from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from servers.runtime import NotFound, Runtime, Unavailable, downstream_call_options

# ListCustomersByArea takes at most this many area codes per call.
AREAS_PER_CALL = 100


@dataclass(frozen=True)
class CustomerPlace:
    """Where a customer is supplied from."""

    area_code: str
    supply_office: str


def unavailable(what: str) -> Unavailable:
    """The error of an upstream service that could not answer."""
    return Unavailable(
        f"{what} cannot be reached right now",
        reason="UPSTREAM_UNAVAILABLE",
        retry_after=timedelta(seconds=5),
    )


class BillingCustomers:
    """Customers by area and customers' places, from BillingInternalService."""

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def _stub(self) -> billing_grpc.BillingInternalServiceStub:
        return billing_grpc.BillingInternalServiceStub(self._runtime.channel("billing"))

    def _options(self) -> dict[str, Any]:
        return downstream_call_options(default_timeout=self._timeout).kwargs()

    def in_areas(self, area_codes: Sequence[str]) -> Iterator[str]:
        """Every customer (`customers/{id}`) of these areas, by area chunk and number;
        Unavailable when billing cannot answer."""
        stub = self._stub()
        codes = sorted(set(area_codes))
        for start in range(0, len(codes), AREAS_PER_CALL):
            chunk = codes[start : start + AREAS_PER_CALL]
            token = ""
            while True:
                request = billing_pb.ListCustomersByAreaRequest(
                    area_codes=chunk, page_size=1000, page_token=token
                )
                try:
                    reply = stub.ListCustomersByArea(request, **self._options())
                except grpc.RpcError as error:
                    raise unavailable("the customer archive") from error
                yield from reply.customers
                token = reply.next_page_token
                if not token:
                    break

    def count_in_areas(self, area_codes: Sequence[str]) -> int:
        return sum(1 for _ in self.in_areas(area_codes))

    def place_of(self, customer: str) -> CustomerPlace:
        """The area and office of `customer` ("customers/{id}"); NotFound when unknown."""
        try:
            reply = self._stub().BatchGetCustomers(
                billing_pb.BatchGetCustomersRequest(names=[customer]), **self._options()
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"{customer} not found") from error
            raise unavailable("the customer archive") from error
        found = reply.customers[0]
        return CustomerPlace(area_code=found.area_code, supply_office=found.supply_office)
