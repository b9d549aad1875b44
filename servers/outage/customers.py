"""Customers (户号) from billing: those supplied from some areas (with the supply
offices they belong to), and one customer's area and supply office. Outage asks
billing's internal API as itself (its mTLS service account), never billing's tables.
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
class AreaSurvey:
    """The active customers of some areas: how many, and (when asked) the supply offices
    each area's customers belong to."""

    customer_count: int
    offices_by_area: dict[str, set[str]]


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

    def _pages(self, area_codes: Sequence[str]) -> Iterator[Sequence[str]]:
        """The customers (`customers/{id}`) of these areas, a page (at most 1000) at a
        time, by area chunk and number; Unavailable when billing cannot answer."""
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
                yield reply.customers
                token = reply.next_page_token
                if not token:
                    break

    def in_areas(self, area_codes: Sequence[str]) -> Iterator[str]:
        """Every customer (`customers/{id}`) of these areas, by area chunk and number;
        Unavailable when billing cannot answer."""
        for page in self._pages(area_codes):
            yield from page

    def survey(self, area_codes: Sequence[str], *, with_offices: bool) -> AreaSurvey:
        """How many customers these areas have and, with `with_offices`, which supply
        offices each area's customers belong to (one BatchGetCustomers per page of at
        most 1000); Unavailable when billing cannot answer."""
        count = 0
        offices: dict[str, set[str]] = {}
        for page in self._pages(area_codes):
            count += len(page)
            if with_offices and page:
                for customer in self._batch_get(page):
                    offices.setdefault(customer.area_code, set()).add(customer.supply_office)
        return AreaSurvey(customer_count=count, offices_by_area=offices)

    def _batch_get(self, names: Sequence[str]) -> Sequence[Any]:
        try:
            reply = self._stub().BatchGetCustomers(
                billing_pb.BatchGetCustomersRequest(names=names), **self._options()
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(str(error.details())) from error
            raise unavailable("the customer archive") from error
        return reply.customers

    def place_of(self, customer: str) -> CustomerPlace:
        """The area and office of `customer` ("customers/{id}"); NotFound when unknown."""
        found = self._batch_get([customer])[0]
        return CustomerPlace(area_code=found.area_code, supply_office=found.supply_office)
