"""Payments whose result went missing are resolved by asking the provider, never by
charging again (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest

from palmgrid.billing.v1 import payment_pb2
from servers.billing.payments import recovery
from servers.runtime import SettableClock, error_from_rpc
from tests.billing.payments_support import (
    FAST,
    Billing,
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

CUSTOMER_ID = "3100000004"
SUCCEEDED = payment_pb2.PAYMENT_STATE_SUCCEEDED
# The provider takes the order but answers after billing stopped waiting (1 s), and
# sends no callback: only a query can tell billing what happened.
HANGING = FAST.updated({"create_delay_seconds": 2.0, "callbacks": "none"})


def _timed_out_payment(billing: Billing, request_id: str) -> str:
    billing.add_customer(CUSTOMER_ID)
    with pytest.raises(grpc.RpcError) as caught:
        billing.as_customer(CUSTOMER_ID).pay(CUSTOMER_ID, 6600, request_id)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    name = error_from_rpc(caught.value).metadata["payment"]
    number = name.rsplit("/", 1)[-1]
    wait_until(lambda: billing.sandbox.charges(number))  # the payer paid meanwhile
    return name


def test_a_timed_out_payment_is_resolved_by_query_with_one_charge(
    start_billing: StartBilling,
) -> None:
    billing = start_billing(HANGING)
    request_id = str(uuid.uuid4())
    name = _timed_out_payment(billing, request_id)
    payer = billing.as_customer(CUSTOMER_ID)
    assert payer.get(name).state == payment_pb2.PAYMENT_STATE_PENDING

    billing.payments.jobs.run_once()  # the resolver asks the provider

    resolved = payer.get(name)
    assert resolved.state == SUCCEEDED and resolved.provider_order_id.startswith("4200")
    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID)] == [6600]
    # The client's retry gets the settled payment; no order is placed again.
    assert payer.pay(CUSTOMER_ID, 6600, request_id).state == SUCCEEDED
    [order] = billing.sandbox.book.snapshot()
    assert order["create_requests"] == 1 and billing.sandbox.charges(order["out_trade_no"]) == 1
    assert billing.balance_fen(CUSTOMER_ID) == 6600


def test_a_retry_after_a_timeout_places_the_same_order_not_a_new_one(
    start_billing: StartBilling,
) -> None:
    billing = start_billing(HANGING)
    request_id = str(uuid.uuid4())
    name = _timed_out_payment(billing, request_id)
    billing.sandbox.update_behaviour(create_delay_seconds=0.0)

    # The retry takes the request over and places the order again under the same
    # out_trade_no: the provider says it is paid, so billing settles it.
    retried = billing.as_customer(CUSTOMER_ID).pay(CUSTOMER_ID, 6600, request_id)
    assert retried.name == name and retried.state == SUCCEEDED
    [order] = billing.sandbox.book.snapshot()
    assert order["create_requests"] == 2 and billing.sandbox.charges(order["out_trade_no"]) == 1
    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID)] == [6600]


def test_an_unpaid_payment_is_closed_at_the_provider_when_it_expires(
    start_billing: StartBilling,
) -> None:
    billing = start_billing(FAST.updated({"outcome": "never"}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = payer.pay(CUSTOMER_ID, 100)
    billing.payments.jobs.run_once()
    assert payer.get(created.name).state == payment_pb2.PAYMENT_STATE_PENDING

    billing.payments.clock = SettableClock(billing.payments.now() + timedelta(hours=1))
    recovery.resolve_pending(billing.payments)

    closed = payer.get(created.name)
    assert closed.state == payment_pb2.PAYMENT_STATE_CLOSED and closed.failure_reason == "EXPIRED"
    assert billing.sandbox.book.snapshot()[0]["trade_state"] == "CLOSED"
    assert billing.balance_fen(CUSTOMER_ID) == 0


def test_an_unreachable_provider_leaves_the_request_retryable(
    start_billing: StartBilling,
) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    billing.sandbox.stop()
    request_id = str(uuid.uuid4())
    payer = billing.as_customer(CUSTOMER_ID)
    for _ in range(2):  # the lease was released: the retry is not told "in progress"
        with pytest.raises(grpc.RpcError) as caught:
            payer.pay(CUSTOMER_ID, 100, request_id)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    billing.payments.jobs.run_once()  # cannot ask either: stays PENDING, nothing booked
    assert billing.ledger_entries(CUSTOMER_ID) == []
