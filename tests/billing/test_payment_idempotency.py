"""CreatePayment's request id, on SQLite and PostgreSQL: one payment, one provider order
and one ledger credit however often, and however concurrently, a request is sent."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from palmgrid.billing.v1 import payment_pb2
from servers.runtime import error_from_rpc
from tests.billing.payments_support import (
    FAST,
    Caller,
    StartBilling,
    billing_server,
    identity_key,
    module_database_url,
    payment_keys_dir,
    start_billing,
    wait_until,
)

__all__ = [
    "billing_server",
    "identity_key",
    "module_database_url",
    "payment_keys_dir",
    "start_billing",
]

CUSTOMER_ID = "3100000002"
SUCCEEDED = payment_pb2.PAYMENT_STATE_SUCCEEDED


def _reason(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), error_from_rpc(error).reason  # type: ignore[attr-defined]


def test_fifty_concurrent_requests_with_one_request_id_make_one_payment(
    start_billing: StartBilling,
) -> None:
    # The provider takes a moment to answer, so most requests arrive while the first
    # one is still in flight. One order is placed only if that answer comes within the
    # provider timeout and the key's lease (else a retry places it again, as designed):
    # both are left at production's lengths, which a loaded host does not reach.
    billing = start_billing(
        FAST.updated({"create_delay_seconds": 0.3}),
        provider_timeout_seconds=5.0,
        lease_seconds=30.0,
    )
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    request_id = str(uuid.uuid4())
    start = threading.Barrier(50)

    def attempt(_: int) -> payment_pb2.Payment | tuple[grpc.StatusCode, str]:
        start.wait()
        try:
            return payer.pay(CUSTOMER_ID, 5000, request_id)
        except grpc.RpcError as error:
            return _reason(error)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))

    payments = [r for r in results if isinstance(r, payment_pb2.Payment)]
    refused = [r for r in results if not isinstance(r, payment_pb2.Payment)]
    assert payments, "the request that claimed the id answers with the payment"
    assert len({p.name for p in payments}) == 1
    # Told to retry: the id is in flight, or (a loaded host) the audit log did not
    # answer its health check in time, which refuses before anything is done.
    retry_later = {
        (grpc.StatusCode.ABORTED, "REQUEST_IN_PROGRESS"),
        (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
    }
    assert set(refused) <= retry_later
    assert (grpc.StatusCode.ABORTED, "REQUEST_IN_PROGRESS") in refused, (
        "requests arriving while the first is in flight are told to retry"
    )

    name = payments[0].name
    wait_until(lambda: payer.get(name).state == SUCCEEDED)
    assert billing.sandbox.book.snapshot() == [
        {
            "out_trade_no": name.rsplit("/", 1)[-1],
            "trade_state": "SUCCESS",
            "transaction_id": payer.get(name).provider_order_id,
            "total": 5000,
            "refunded": 0,
            "create_requests": 1,
        }
    ]
    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID)] == [5000]
    assert billing.balance_fen(CUSTOMER_ID) == 5000

    # Retried once settled: the same payment, nothing moves.
    again = payer.pay(CUSTOMER_ID, 5000, request_id)
    assert again.name == name and again.state == SUCCEEDED
    assert billing.balance_fen(CUSTOMER_ID) == 5000
    assert billing.sandbox.book.snapshot()[0]["create_requests"] == 1


def test_same_request_id_with_another_body_is_refused(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    request_id = str(uuid.uuid4())
    first = payer.pay(CUSTOMER_ID, 5000, request_id)

    wechat, alipay = payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY, payment_pb2.PAYMENT_CHANNEL_ALIPAY
    changed: list[tuple[Caller, int, int]] = [
        (payer, 5001, wechat),
        (payer, 5000, alipay),
        # Another user bound to the same customer may not reuse the payer's key.
        (billing.as_customer(CUSTOMER_ID, user="users/someone-else"), 5000, wechat),
    ]
    for caller, amount, channel in changed:
        with pytest.raises(grpc.RpcError) as caught:
            caller.pay(CUSTOMER_ID, amount, request_id, channel=channel)
        assert _reason(caught.value) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")

    assert payer.pay(CUSTOMER_ID, 5000, request_id).name == first.name
    wait_until(lambda: payer.get(first.name).state == SUCCEEDED)
    assert billing.balance_fen(CUSTOMER_ID) == 5000
    assert len(billing.sandbox.book.snapshot()) == 1


def test_a_request_in_flight_is_aborted_and_its_retry_gets_the_payment(
    start_billing: StartBilling,
) -> None:
    billing = start_billing(FAST.updated({"create_delay_seconds": 0.5}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    request_id = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(payer.pay, CUSTOMER_ID, 1200, request_id)
        wait_until(lambda: billing.sandbox.book.snapshot())  # the order is being placed
        with pytest.raises(grpc.RpcError) as caught:
            payer.pay(CUSTOMER_ID, 1200, request_id)
        assert _reason(caught.value) == (grpc.StatusCode.ABORTED, "REQUEST_IN_PROGRESS")
        created = first.result()
    retried = payer.pay(CUSTOMER_ID, 1200, request_id)
    assert retried.name == created.name
    assert retried.checkout_payload == created.checkout_payload or retried.state == SUCCEEDED
