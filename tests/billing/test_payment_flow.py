"""Paying over real gRPC with the sandbox provider over real HTTP, on SQLite and on
PostgreSQL: create → signed, encrypted callback → SUCCEEDED → one ledger credit."""

from __future__ import annotations

import json

import grpc
import pytest

from palmgrid.billing.v1 import billing_service_pb2, payment_pb2
from servers.billing.payments.sandbox import Behaviour
from tests.billing.payments_support import (
    FAST,
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

CUSTOMER_ID = "3100000001"
PAYMENT = payment_pb2.Payment


def test_payment_succeeds_and_credits_the_balance_once(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)

    created = payer.pay(CUSTOMER_ID, 5000)
    assert created.state == payment_pb2.PAYMENT_STATE_PENDING
    assert created.name.startswith(f"customers/{CUSTOMER_ID}/payments/")
    assert json.loads(created.checkout_payload)["prepayid"].startswith("wx")
    assert created.payer == "users/payer" and created.expire_time.seconds > 0

    done = wait_until(
        lambda: (p := payer.get(created.name)).state == payment_pb2.PAYMENT_STATE_SUCCEEDED and p
    )
    assert done.provider_order_id.startswith("4200")
    assert done.checkout_payload == "" and done.complete_time.seconds > 0
    assert billing.balance_fen(CUSTOMER_ID) == 5000
    [entry] = billing.ledger_entries(CUSTOMER_ID)
    assert entry.amount_fen == 5000 and entry.reference == created.name
    assert billing.sandbox.charges(created.name.rsplit("/", 1)[-1]) == 1

    listed = payer.list(CUSTOMER_ID)
    assert [p.name for p in listed.payments] == [created.name]


def test_a_pending_payment_shows_in_the_balance_until_it_succeeds(
    start_billing: StartBilling,
) -> None:
    billing = start_billing(FAST.updated({"callbacks": "held"}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)

    def balance() -> tuple[int, int]:
        reply = billing.stub.GetBalance(
            billing_service_pb2.GetBalanceRequest(name=f"customers/{CUSTOMER_ID}/balance"),
            metadata=payer.metadata(),
            timeout=10,
        )
        return reply.balance_fen, reply.pending_fen

    payer.pay(CUSTOMER_ID, 2500)
    assert balance() == (0, 2500)
    wait_until(lambda: billing.sandbox.held_callbacks == 1)
    billing.sandbox.flush_callbacks()
    assert balance() == (2500, 0)


def test_declined_payment_fails_without_credit(start_billing: StartBilling) -> None:
    billing = start_billing(FAST.updated({"outcome": "decline"}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = payer.pay(CUSTOMER_ID, 800)

    def resolved() -> PAYMENT | None:
        billing.payments.jobs.run_once()  # no callback for a decline: the resolver asks
        payment = payer.get(created.name)
        return payment if payment.state == payment_pb2.PAYMENT_STATE_FAILED else None

    assert wait_until(resolved).failure_reason == "PAYMENT_DECLINED"
    assert billing.balance_fen(CUSTOMER_ID) == 0


def test_history_is_newest_first_and_paginated(start_billing: StartBilling) -> None:
    billing = start_billing(Behaviour(outcome="never"))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    names = [payer.pay(CUSTOMER_ID, 100 + i).name for i in range(5)]
    first = payer.list(CUSTOMER_ID, page_size=2)
    second = payer.list(CUSTOMER_ID, page_size=2, page_token=first.next_page_token)
    third = payer.list(CUSTOMER_ID, page_size=2, page_token=second.next_page_token)
    seen = [p.name for page in (first, second, third) for p in page.payments]
    assert seen == names[::-1]
    assert third.next_page_token == ""


def test_unknown_customer_is_not_found_for_staff(start_billing: StartBilling) -> None:
    billing = start_billing()
    with pytest.raises(grpc.RpcError) as caught:
        billing.as_staff(everywhere=True).pay("3100009999", 100)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
