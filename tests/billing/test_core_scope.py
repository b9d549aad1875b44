"""Data scope: a customer reaches only bound customers (户号); staff only customers of
their supply offices; responses to people mask sensitive fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from tests.billing.core_support import BillingServer
from tests.billing.records import customer_record, upsert_request

MINE, OTHER = "3100000001", "3100000002"

Read = Callable[[BillingServer, str, list[tuple[str, bytes]]], Any]

READS: dict[str, Read] = {
    "GetCustomer": lambda b, c, md: b.billing.GetCustomer(
        service_pb2.GetCustomerRequest(name=f"customers/{c}"), metadata=md
    ),
    "GetBalance": lambda b, c, md: b.billing.GetBalance(
        service_pb2.GetBalanceRequest(name=f"customers/{c}/balance"), metadata=md
    ),
    "ListMonthlyUsage": lambda b, c, md: b.billing.ListMonthlyUsage(
        service_pb2.ListMonthlyUsageRequest(parent=f"customers/{c}"), metadata=md
    ),
    "ListDailyUsage": lambda b, c, md: b.billing.ListDailyUsage(
        service_pb2.ListDailyUsageRequest(parent=f"customers/{c}"), metadata=md
    ),
    "ListBills": lambda b, c, md: b.billing.ListBills(
        service_pb2.ListBillsRequest(parent=f"customers/{c}"), metadata=md
    ),
    "GetChargeEstimate": lambda b, c, md: b.billing.GetChargeEstimate(
        service_pb2.GetChargeEstimateRequest(name=f"customers/{c}/chargeEstimate"), metadata=md
    ),
    "ListMeterReadings": lambda b, c, md: b.billing.ListMeterReadings(
        service_pb2.ListMeterReadingsRequest(parent=f"customers/{c}/meters/-"), metadata=md
    ),
}


@pytest.fixture
def two_customers(billing: BillingServer) -> BillingServer:
    billing.internal.BatchUpsertCustomers(
        upsert_request(
            customer_record(MINE, supply_office="QJ-QL"),
            customer_record(OTHER, supply_office="QJ-ZY", phone="13912345678"),
        ),
        metadata=billing.service(),
    )
    return billing


def code_of(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", sorted(READS))
def test_a_customer_reads_only_bound_customers(two_customers: BillingServer, method: str) -> None:
    read = READS[method]
    caller = two_customers.customer(MINE)
    assert code_of(lambda: read(two_customers, MINE, caller)) == grpc.StatusCode.OK
    assert code_of(lambda: read(two_customers, OTHER, caller)) == grpc.StatusCode.PERMISSION_DENIED
    # An unbound number that does not exist gets the same answer as one that does.
    assert (
        code_of(lambda: read(two_customers, "3199999999", caller))
        == grpc.StatusCode.PERMISSION_DENIED
    )


@pytest.mark.parametrize("method", sorted(READS))
def test_staff_read_only_customers_of_their_offices(
    two_customers: BillingServer, method: str
) -> None:
    read = READS[method]
    staff = two_customers.staff("QJ-QL")
    assert code_of(lambda: read(two_customers, MINE, staff)) == grpc.StatusCode.OK
    assert code_of(lambda: read(two_customers, OTHER, staff)) == grpc.StatusCode.PERMISSION_DENIED
    everywhere = two_customers.staff(everywhere=True)
    assert code_of(lambda: read(two_customers, OTHER, everywhere)) == grpc.StatusCode.OK


def test_the_permission_denied_error_names_the_reason(two_customers: BillingServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        READS["GetBalance"](two_customers, OTHER, two_customers.customer(MINE))
    assert "OUT_OF_SCOPE" in str(caught.value.trailing_metadata())


def test_anonymous_callers_are_refused(two_customers: BillingServer) -> None:
    assert code_of(lambda: READS["GetBalance"](two_customers, MINE, [])) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_staff_asking_for_an_unknown_customer_get_not_found(two_customers: BillingServer) -> None:
    staff = two_customers.staff(everywhere=True)
    assert code_of(lambda: READS["GetCustomer"](two_customers, "3199999999", staff)) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_the_customer_is_shown_masked(two_customers: BillingServer) -> None:
    customer = READS["GetCustomer"](two_customers, OTHER, two_customers.staff("QJ-ZY"))
    assert customer.holder_name == "张*明"
    assert customer.registered_phone == "139****5678"
    assert customer.area_code == "A01"
    assert customer.tariff == "tariffs/residential-tiered"
