"""Payments made outside the app, recorded from the marketing system through the
internal BatchRecordExternalPayments (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2

from palmgrid.billing.v1 import (
    billing_internal_service_pb2,
    billing_internal_service_pb2_grpc,
    payment_pb2,
)
from palmgrid.type.v1 import identity_pb2
from tests.billing.payments_support import (
    Billing,
    StartBilling,
    billing_server,
    identity_key,
    module_database_url,
    payment_keys_dir,
    start_billing,
)

__all__ = [
    "billing_server",
    "identity_key",
    "module_database_url",
    "payment_keys_dir",
    "start_billing",
]

CUSTOMER_ID = "3100000050"
INGEST = identity_pb2.Principal(
    user="serviceAccounts/ingest",
    kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
    permissions=["billing.payments.record"],
    all_supply_offices=True,
)


def _receipt(number: str, amount: int) -> payment_pb2.Payment:
    paid = timestamp_pb2.Timestamp()
    paid.FromDatetime(datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    return payment_pb2.Payment(
        name=f"customers/{CUSTOMER_ID}/payments/{number}",
        amount_fen=amount,
        channel=payment_pb2.PAYMENT_CHANNEL_COUNTER,
        provider_order_id=number.upper(),
        complete_time=paid,
    )


def _record(
    billing: Billing, payments: list[payment_pb2.Payment], request_id: str
) -> billing_internal_service_pb2.BatchRecordExternalPaymentsResponse:
    stub = billing_internal_service_pb2_grpc.BillingInternalServiceStub(billing.channel)
    reply: billing_internal_service_pb2.BatchRecordExternalPaymentsResponse = (
        stub.BatchRecordExternalPayments(
            billing_internal_service_pb2.BatchRecordExternalPaymentsRequest(
                payments=payments, request_id=request_id
            ),
            metadata=(billing.signer.metadata(INGEST, audience="billing"),),
            timeout=10,
        )
    )
    return reply


def test_counter_payments_are_recorded_and_credited_once(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    batch = [_receipt("r2026030100001", 10000), _receipt("r2026030100002", 2500)]
    request_id = str(uuid.uuid4())

    first = _record(billing, batch, request_id)
    assert (first.recorded_count, first.duplicate_count) == (2, 0)
    # The same batch again under its request id: the same answer, nothing booked twice.
    again = _record(billing, batch, request_id)
    assert (again.recorded_count, again.duplicate_count) == (2, 0)
    # Overlapping with a later batch: the known receipt is skipped.
    later = _record(billing, [batch[1], _receipt("r2026030100003", 300)], str(uuid.uuid4()))
    assert (later.recorded_count, later.duplicate_count) == (1, 1)

    assert billing.balance_fen(CUSTOMER_ID) == 12800
    listed = billing.as_customer(CUSTOMER_ID).list(CUSTOMER_ID).payments
    assert {p.name.rsplit("/", 1)[-1] for p in listed} == {
        "r2026030100001",
        "r2026030100002",
        "r2026030100003",
    }
    assert {p.state for p in listed} == {payment_pb2.PAYMENT_STATE_SUCCEEDED}
    assert {p.channel for p in listed} == {payment_pb2.PAYMENT_CHANNEL_COUNTER}


def test_a_batch_naming_an_unknown_customer_records_nothing(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    stranger = _receipt("r2026030100009", 100)
    stranger.name = "customers/3100009999/payments/r2026030100009"
    with pytest.raises(grpc.RpcError) as caught:
        _record(billing, [_receipt("r2026030100008", 100), stranger], str(uuid.uuid4()))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert billing.balance_fen(CUSTOMER_ID) == 0
    request_id = str(uuid.uuid4())
    _record(billing, [_receipt("r2026030100008", 100)], request_id)
    with pytest.raises(grpc.RpcError) as reused:
        _record(billing, [_receipt("r2026030100008", 200)], request_id)
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
