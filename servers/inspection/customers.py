"""The customer (户号) an inspection is about, from billing's customer archive: its
supply office decides who sees the task, and its name, phone and address help the
inspector on site. Inspection reads them through billing's internal BatchGetCustomers,
as itself, never billing's tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from servers.inspection.upstream import call
from servers.runtime import FieldViolation, InvalidArgument, Runtime


@dataclass(frozen=True)
class ArchivedCustomer:
    """What an inspection keeps of a customer's archive record."""

    supply_office: str
    holder_name: str
    phone: str
    address: str


class CustomerArchive(Protocol):
    """Where customers are looked up."""

    def customer(self, name: str, field: str) -> ArchivedCustomer:
        """The customer `name` ("customers/{id}"); InvalidArgument naming `field` (the
        request's) when unknown, Unavailable when it cannot be asked."""
        ...


class BillingCustomerArchive:
    """Customers from billing's BatchGetCustomers."""

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def customer(self, name: str, field: str) -> ArchivedCustomer:
        stub = billing_grpc.BillingInternalServiceStub(self._runtime.channel("billing"))
        reply = call(
            "the customer archive",
            stub.BatchGetCustomers,
            billing_pb.BatchGetCustomersRequest(names=[name]),
            timeout=self._timeout,
            not_found=lambda _: InvalidArgument(
                f"{name} is not in the customer archive",
                field_violations=[FieldViolation(field, "no such customer")],
            ),
        )
        found = reply.customers[0]
        return ArchivedCustomer(
            supply_office=found.supply_office,
            holder_name=found.holder_name,
            phone=found.registered_phone,
            address=found.address,
        )
