"""Refunds through the provider (SQLite and PostgreSQL): held back from the balance at
once, completed by the provider, credited back when they fail; idempotent requests."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from palmgrid.billing.v1 import billing_admin_service_pb2, payment_pb2
from servers.billing.payments.sandbox import Sandbox
from servers.runtime import error_from_rpc
from tests.billing.payments_sandbox_support import APP_ID, MERCHANT_ID
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

CUSTOMER_ID = "3100000020"
REFUND_STATE = payment_pb2.RefundState


def _paid(billing: Billing, amount: int) -> str:
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    name = payer.pay(CUSTOMER_ID, amount).name
    wait_until(lambda: payer.get(name).state == payment_pb2.PAYMENT_STATE_SUCCEEDED)
    return name


def _refund(
    billing: Billing, payment: str, amount: int, request_id: str | None = None, reason: str = "多缴"
) -> payment_pb2.Refund:
    reply: payment_pb2.Refund = billing.admin.CreateRefund(
        billing_admin_service_pb2.CreateRefundRequest(
            parent=payment,
            refund=payment_pb2.Refund(amount_fen=amount, reason=reason),
            request_id=request_id or str(uuid.uuid4()),
        ),
        metadata=billing.as_staff(everywhere=True).metadata(),
        timeout=10,
    )
    return reply


def _get(billing: Billing, name: str) -> payment_pb2.Refund:
    reply: payment_pb2.Refund = billing.admin.GetRefund(
        billing_admin_service_pb2.GetRefundRequest(name=name),
        metadata=billing.as_staff(everywhere=True).metadata(),
        timeout=10,
    )
    return reply


def test_refund_is_held_then_completed_by_the_provider(start_billing: StartBilling) -> None:
    billing = start_billing()
    payment = _paid(billing, 5000)
    request_id = str(uuid.uuid4())
    refund = _refund(billing, payment, 1200, request_id)
    assert refund.name.startswith(f"{payment}/refunds/")
    assert refund.requester == "users/clerk"
    assert billing.balance_fen(CUSTOMER_ID) == 3800  # held at once

    done = wait_until(
        lambda: (r := _get(billing, refund.name)).state == REFUND_STATE.REFUND_STATE_SUCCEEDED and r
    )
    assert done.provider_refund_id.startswith("5030") and done.complete_time.seconds > 0
    assert billing.balance_fen(CUSTOMER_ID) == 3800
    seen = billing.as_customer(CUSTOMER_ID).get(payment)
    assert seen.refunded_fen == 1200 and seen.state == payment_pb2.PAYMENT_STATE_SUCCEEDED

    # The same request again: the same refund, nothing more refunded.
    assert _refund(billing, payment, 1200, request_id).name == refund.name
    with pytest.raises(grpc.RpcError) as reused:
        _refund(billing, payment, 1300, request_id)
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_from_rpc(reused.value).reason == "IDEMPOTENCY_KEY_REUSED"
    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID, "REFUND")] == [-1200]

    # The rest, in full: the payment is REFUNDED; nothing is left to refund.
    _refund(billing, payment, 3800)
    assert billing.as_customer(CUSTOMER_ID).get(payment).state == (
        payment_pb2.PAYMENT_STATE_REFUNDED
    )
    with pytest.raises(grpc.RpcError) as exhausted:
        _refund(billing, payment, 1)
    assert exhausted.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert billing.balance_fen(CUSTOMER_ID) == 0


def test_a_failed_refund_credits_the_amount_back(start_billing: StartBilling) -> None:
    billing = start_billing()
    payment = _paid(billing, 2000)
    billing.sandbox.update_behaviour(outcome="decline")  # the refund comes back ABNORMAL
    refund = _refund(billing, payment, 500)
    assert billing.balance_fen(CUSTOMER_ID) == 1500
    failed = wait_until(
        lambda: (r := _get(billing, refund.name)).state == REFUND_STATE.REFUND_STATE_FAILED and r
    )
    assert failed.failure_reason == "REFUND_ABNORMAL"
    assert billing.balance_fen(CUSTOMER_ID) == 2000
    assert billing.as_customer(CUSTOMER_ID).get(payment).refunded_fen == 0
    amounts = sorted(e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID, "REFUND"))
    assert amounts == [-500, 500]


def test_a_refund_the_provider_did_not_receive_is_sent_again(
    start_billing: StartBilling, payment_keys_dir: Path
) -> None:
    billing = start_billing()
    payment = _paid(billing, 3000)
    down = billing.sandbox
    down.stop()  # the provider is down when the refund is asked for
    refund = _refund(billing, payment, 1000)
    assert refund.state == REFUND_STATE.REFUND_STATE_PENDING
    assert billing.balance_fen(CUSTOMER_ID) == 2000  # held all the same

    # The provider is back, with its orders but without the refund.
    billing.sandbox = Sandbox(
        down.keys, merchant_id=MERCHANT_ID, app_id=APP_ID, behaviour=FAST, port=down.port
    ).start()
    billing.sandbox.book = down.book

    def refunded() -> bool:
        billing.payments.jobs.run_once()  # asks, finds nothing, sends it again; then asks
        return _get(billing, refund.name).state == REFUND_STATE.REFUND_STATE_SUCCEEDED

    wait_until(refunded)
    assert len(billing.sandbox.book.refunds) == 1
    assert billing.balance_fen(CUSTOMER_ID) == 2000


def test_only_succeeded_in_app_payments_are_refunded(start_billing: StartBilling) -> None:
    billing = start_billing(FAST.updated({"outcome": "never"}))
    billing.add_customer(CUSTOMER_ID)
    pending = billing.as_customer(CUSTOMER_ID).pay(CUSTOMER_ID, 100).name
    with pytest.raises(grpc.RpcError) as caught:
        _refund(billing, pending, 100)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as missing:
        _refund(billing, f"customers/{CUSTOMER_ID}/payments/nosuchpayment", 100)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert billing.ledger_entries(CUSTOMER_ID, "REFUND") == []
