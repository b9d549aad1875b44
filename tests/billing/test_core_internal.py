"""BillingInternalService over a real server: binding checks, customers by area and in
bulk, archive upserts."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import resources_pb2
from tests.billing.core_support import BillingServer
from tests.billing.records import SOURCE_TIME, customer_record, upsert_request


def check(billing: BillingServer, customer_id: str) -> internal_pb2.VerifyCustomerBindingResponse:
    request = internal_pb2.VerifyCustomerBindingRequest(name=f"customers/{customer_id}")
    reply: internal_pb2.VerifyCustomerBindingResponse = billing.internal.VerifyCustomerBinding(
        request, metadata=billing.service()
    )
    return reply


def test_a_bindable_customer_is_answered_with_its_phone_and_supply_office(
    billing: BillingServer,
) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(
            customer_record("3100000042", phone="13912340042"),
            customer_record("3100000043", phone=""),
            customer_record("3100000044", state=resources_pb2.CUSTOMER_STATE_CLOSED),
        ),
        metadata=billing.service(),
    )
    answer = check(billing, "3100000042")
    assert answer.verified and answer.registered_phone == "13912340042"
    assert answer.supply_office == customer_record("3100000042").supply_office
    # No phone is a "no" that names the office (for staff binding at the counter);
    # closed and unknown are the same empty "no".
    phoneless = check(billing, "3100000043")
    assert not phoneless.verified and not phoneless.registered_phone
    assert phoneless.supply_office == customer_record("3100000043").supply_office
    for customer_id in ("3100000044", "3199999999"):
        assert check(billing, customer_id) == internal_pb2.VerifyCustomerBindingResponse()


def test_binding_check_needs_the_permission(billing: BillingServer) -> None:
    request = internal_pb2.VerifyCustomerBindingRequest(name="customers/3100000042")
    with pytest.raises(grpc.RpcError) as caught:
        billing.internal.VerifyCustomerBinding(request, metadata=billing.customer("3100000042"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_customers_by_area_are_paged_in_number_order(billing: BillingServer) -> None:
    records = [
        customer_record(f"31000001{n:02d}", area_code="A01" if n % 2 else "A02") for n in range(20)
    ]
    records.append(
        customer_record("3100000199", area_code="A01", state=resources_pb2.CUSTOMER_STATE_CLOSED)
    )
    billing.internal.BatchUpsertCustomers(upsert_request(*records), metadata=billing.service())
    found: list[str] = []
    token = ""
    while True:
        page = billing.internal.ListCustomersByArea(
            internal_pb2.ListCustomersByAreaRequest(
                area_codes=["A01"], page_size=4, page_token=token
            ),
            metadata=billing.service(),
        )
        found += page.customers
        token = page.next_page_token
        if not token:
            break
    assert found == [f"customers/31000001{n:02d}" for n in range(1, 20, 2)]
    with pytest.raises(grpc.RpcError) as caught:
        billing.internal.ListCustomersByArea(
            internal_pb2.ListCustomersByAreaRequest(
                area_codes=["A02"], page_token=page.next_page_token or "x"
            ),
            metadata=billing.service(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_batch_get_returns_full_records_in_request_order(billing: BillingServer) -> None:
    billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001"), customer_record("3100000002")),
        metadata=billing.service(),
    )
    reply = billing.internal.BatchGetCustomers(
        internal_pb2.BatchGetCustomersRequest(
            names=["customers/3100000002", "customers/3100000001"]
        ),
        metadata=billing.service(),
    )
    assert [c.name for c in reply.customers] == ["customers/3100000002", "customers/3100000001"]
    assert reply.customers[0].registered_phone == "13800000042"
    assert reply.customers[0].meters[0].name == "customers/3100000002/meters/M1"
    with pytest.raises(grpc.RpcError) as caught:
        billing.internal.BatchGetCustomers(
            internal_pb2.BatchGetCustomersRequest(
                names=["customers/3100000001", "customers/3100000009"]
            ),
            metadata=billing.service(),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_upserts_count_new_changed_unchanged_and_stale_records(billing: BillingServer) -> None:
    first = billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001"), customer_record("3100000002")),
        metadata=billing.service(),
    )
    assert (first.created_count, first.updated_count) == (2, 0)
    newer = SOURCE_TIME + timedelta(days=1)
    older = SOURCE_TIME - timedelta(days=1)
    second = billing.internal.BatchUpsertCustomers(
        upsert_request(
            customer_record("3100000001", area_code="A03", source_time=newer),
            customer_record("3100000002", area_code="A04", source_time=older),
            customer_record("3100000003"),
        ),
        metadata=billing.service(),
    )
    assert (
        second.created_count,
        second.updated_count,
        second.unchanged_count,
        second.stale_count,
    ) == (1, 1, 0, 1)
    again = billing.internal.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001", area_code="A03", source_time=newer)),
        metadata=billing.service(),
    )
    assert again.unchanged_count == 1
    stored = billing.internal.BatchGetCustomers(
        internal_pb2.BatchGetCustomersRequest(
            names=["customers/3100000001", "customers/3100000002"]
        ),
        metadata=billing.service(),
    ).customers
    assert [c.area_code for c in stored] == ["A03", "A01"]


def test_a_record_with_an_unknown_tariff_rejects_the_whole_batch(billing: BillingServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        billing.internal.BatchUpsertCustomers(
            upsert_request(
                customer_record("3100000001"), customer_record("3100000002", tariff="no-such")
            ),
            metadata=billing.service(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "customers[1].tariff" in caught.value.details()
    with pytest.raises(grpc.RpcError) as missing:
        billing.internal.BatchGetCustomers(
            internal_pb2.BatchGetCustomersRequest(names=["customers/3100000001"]),
            metadata=billing.service(),
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
