"""Data scope of the payment RPCs: a customer reaches only bound 户号, staff only their
supply offices' customers (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from palmgrid.billing.v1 import billing_admin_service_pb2, billing_service_pb2, payment_pb2
from servers.runtime import error_from_rpc
from tests.billing.payments_support import (
    FAST,
    Billing,
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

MINE, OTHERS, MISSING = "3100000010", "3100000011", "3100009999"
HOME, AWAY = "QJ-QL", "QJ-ZY"


@pytest.fixture
def billing(start_billing: StartBilling) -> Billing:
    running = start_billing(FAST.updated({"outcome": "never"}))
    running.add_customer(MINE, office=HOME)
    running.add_customer(OTHERS, office=AWAY)
    return running


def _denied(call: Callable[[], Any]) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_from_rpc(caught.value).reason == "OUT_OF_SCOPE"


def _refund(caller: Caller, payment: str) -> payment_pb2.Refund:
    reply: payment_pb2.Refund = caller.billing.admin.CreateRefund(
        billing_admin_service_pb2.CreateRefundRequest(
            parent=payment,
            refund=payment_pb2.Refund(amount_fen=1, reason="多缴"),
            request_id=str(uuid.uuid4()),
        ),
        metadata=caller.metadata(),
        timeout=10,
    )
    return reply


def test_a_customer_cannot_pay_or_read_another_customer(billing: Billing) -> None:
    others_payment = billing.as_customer(OTHERS, user="users/neighbour").pay(OTHERS, 100).name
    me = billing.as_customer(MINE)
    for customer in (OTHERS, MISSING):  # the same answer whether it exists or not
        _denied(functools.partial(me.pay, customer, 100))
        _denied(functools.partial(me.list, customer))
    _denied(lambda: me.get(others_payment))
    # The other customer's payment id under my own customer is simply not there.
    mine_path = f"customers/{MINE}/payments/{others_payment.rsplit('/', 1)[-1]}"
    with pytest.raises(grpc.RpcError) as caught:
        me.get(mine_path)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_checkout_payload_is_for_the_payer_only(billing: Billing) -> None:
    payer = billing.as_customer(MINE)
    created = payer.pay(MINE, 100)
    assert created.checkout_payload
    assert payer.get(created.name).checkout_payload == created.checkout_payload
    family = billing.as_customer(MINE, user="users/family")
    seen = family.get(created.name)
    assert seen.name == created.name and seen.checkout_payload == ""
    assert [p.checkout_payload for p in family.list(MINE).payments] == [""]


def test_staff_reach_only_customers_of_their_supply_offices(billing: Billing) -> None:
    others_payment = billing.as_customer(OTHERS, user="users/neighbour").pay(OTHERS, 100).name
    clerk = billing.as_staff(HOME)
    assert clerk.pay(MINE, 100).state == payment_pb2.PAYMENT_STATE_PENDING
    assert len(clerk.list(MINE).payments) == 1
    _denied(lambda: clerk.pay(OTHERS, 100))
    _denied(lambda: clerk.list(OTHERS))
    _denied(lambda: clerk.get(others_payment))

    head_office = billing.as_staff(everywhere=True)
    assert head_office.get(others_payment).name == others_payment
    assert len(head_office.list(OTHERS).payments) == 1


def test_refunds_are_in_scope_of_the_payments_customer(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(OTHERS, office=AWAY)
    payer = billing.as_customer(OTHERS, user="users/neighbour")
    paid = payer.pay(OTHERS, 100).name
    wait_until(lambda: payer.get(paid).state == payment_pb2.PAYMENT_STATE_SUCCEEDED)
    _denied(lambda: _refund(billing.as_staff(HOME), paid))
    refund = _refund(billing.as_staff(AWAY), paid)
    _denied(
        lambda: billing.admin.GetRefund(
            billing_admin_service_pb2.GetRefundRequest(name=refund.name),
            metadata=billing.as_staff(HOME).metadata(),
            timeout=10,
        )
    )


def test_calls_without_an_identity_are_unauthenticated(billing: Billing) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        billing.stub.ListPayments(
            billing_service_pb2.ListPaymentsRequest(parent=f"customers/{MINE}"), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
