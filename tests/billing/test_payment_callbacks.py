"""Provider callbacks through NotifyPayment, on SQLite and PostgreSQL: verified,
idempotent, and harmless when duplicated, replayed or out of order."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api import httpbody_pb2

from palmgrid.billing.v1 import billing_service_pb2, payment_pb2
from servers.billing.payments import protocol
from servers.billing.payments.keys import ProviderKeys, load_merchant_keys, load_provider_keys
from servers.runtime import error_from_rpc
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

CUSTOMER_ID = "3100000003"
SUCCEEDED = payment_pb2.PAYMENT_STATE_SUCCEEDED
PENDING = payment_pb2.PAYMENT_STATE_PENDING


def callback(
    keys: ProviderKeys,
    transaction: dict[str, Any],
    *,
    api_v3_key: bytes | None = None,
    signing_key: Any = None,
) -> tuple[bytes, dict[str, str]]:
    """A TRANSACTION.SUCCESS callback body and its signature headers."""
    resource = protocol.encrypt_resource(
        api_v3_key or keys.api_v3_key,
        protocol.dumps(transaction),
        associated_data="transaction",
        original_type="transaction",
    )
    body = protocol.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": "2026-05-01T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": resource,
        }
    )
    headers = protocol.signed_headers(signing_key or keys.private_key, keys.serial, body)
    return body, headers


def notify(
    billing: Billing, body: bytes, headers: dict[str, str], provider: str = "wechatpay"
) -> None:
    billing.stub.NotifyPayment(
        billing_service_pb2.NotifyPaymentRequest(
            provider=provider,
            body=httpbody_pb2.HttpBody(content_type="application/json", data=body),
        ),
        metadata=tuple((k.lower(), v) for k, v in headers.items()),
        timeout=10,
    )


def _paid_without_callback(billing: Billing) -> tuple[str, dict[str, Any]]:
    """A payment whose order is paid at the provider, its callback not sent."""
    billing.add_customer(CUSTOMER_ID)
    payment = billing.as_customer(CUSTOMER_ID).pay(CUSTOMER_ID, 4200)
    number = payment.name.rsplit("/", 1)[-1]
    wait_until(lambda: billing.sandbox.charges(number))
    return payment.name, billing.sandbox.query_order(number)


def test_duplicate_and_replayed_callbacks_credit_once(
    start_billing: StartBilling, payment_keys_dir: Path
) -> None:
    billing = start_billing(FAST.updated({"callbacks": "twice"}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = payer.pay(CUSTOMER_ID, 3300)
    wait_until(lambda: payer.get(created.name).state == SUCCEEDED)

    # The same result ten more times at once, as a provider retrying would send it.
    number = created.name.rsplit("/", 1)[-1]
    keys = load_provider_keys(payment_keys_dir)
    replays = [callback(keys, billing.sandbox.query_order(number)) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda replay: notify(billing, *replay), replays))

    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID)] == [3300]
    assert billing.balance_fen(CUSTOMER_ID) == 3300


def test_reordered_callbacks_credit_each_payment_once(start_billing: StartBilling) -> None:
    billing = start_billing(FAST.updated({"callbacks": "held"}))
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = [payer.pay(CUSTOMER_ID, amount) for amount in (100, 200, 300)]
    wait_until(lambda: billing.sandbox.held_callbacks == 3)
    assert all(payer.get(p.name).state == PENDING for p in created)

    assert billing.sandbox.flush_callbacks(reverse=True) == 3  # newest first
    for payment in created:
        assert payer.get(payment.name).state == SUCCEEDED
    amounts = sorted(e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID))
    assert amounts == [100, 200, 300]
    assert billing.balance_fen(CUSTOMER_ID) == 600


def test_a_callback_before_the_order_answer_is_applied_once(start_billing: StartBilling) -> None:
    # The payer pays at once while the provider is slow to answer the create call: the
    # result arrives before billing has stored the prepay id.
    billing = start_billing(
        FAST.updated({"confirm_delay_seconds": 0.0, "create_delay_seconds": 0.4})
    )
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = payer.pay(CUSTOMER_ID, 900)
    assert created.state == SUCCEEDED
    assert created.checkout_payload == ""
    assert [e.amount_fen for e in billing.ledger_entries(CUSTOMER_ID)] == [900]


def test_a_late_report_of_another_state_does_not_undo_a_success(
    start_billing: StartBilling, payment_keys_dir: Path
) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    payer = billing.as_customer(CUSTOMER_ID)
    created = payer.pay(CUSTOMER_ID, 700)
    wait_until(lambda: payer.get(created.name).state == SUCCEEDED)
    number = created.name.rsplit("/", 1)[-1]
    stale = {**billing.sandbox.query_order(number), "trade_state": "CLOSED"}
    notify(billing, *callback(load_provider_keys(payment_keys_dir), stale))
    assert payer.get(created.name).state == SUCCEEDED
    assert billing.balance_fen(CUSTOMER_ID) == 700


def test_callbacks_that_do_not_verify_are_refused(
    start_billing: StartBilling, payment_keys_dir: Path
) -> None:
    billing = start_billing(FAST.updated({"callbacks": "none"}))
    name, transaction = _paid_without_callback(billing)
    keys = load_provider_keys(payment_keys_dir)
    merchant = load_merchant_keys(payment_keys_dir)

    body, headers = callback(keys, transaction)
    forged_body, forged_headers = callback(keys, transaction, signing_key=merchant.private_key)
    wrong_key_body, wrong_key_headers = callback(keys, transaction, api_v3_key=b"k" * 32)
    stale = {**headers, protocol.HEADER_TIMESTAMP: str(int(time.time()) - 3600)}
    tampered = body.replace(b"encrypt-resource", b"encrypt-resourcE")
    refused = [
        (forged_body, forged_headers),  # signed with a key that is not the provider's
        (tampered, headers),  # the body changed after signing
        (body, stale),  # an old callback replayed (its signature no longer fresh)
        (body, {**headers, protocol.HEADER_SERIAL: "0" * 40}),  # an unknown key serial
        (wrong_key_body, wrong_key_headers),  # not encrypted with our API v3 key
    ]
    for refused_body, refused_headers in refused:
        with pytest.raises(grpc.RpcError) as caught:
            notify(billing, refused_body, refused_headers)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_from_rpc(caught.value).reason == "VERIFICATION_FAILED"
    with pytest.raises(grpc.RpcError) as unknown:
        notify(billing, body, headers, provider="paypal")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    payer = billing.as_customer(CUSTOMER_ID)
    assert payer.get(name).state == PENDING
    assert billing.ledger_entries(CUSTOMER_ID) == []

    notify(billing, body, headers)  # the genuine one
    assert payer.get(name).state == SUCCEEDED
    assert billing.balance_fen(CUSTOMER_ID) == 4200


def test_a_callback_for_an_unknown_payment_is_not_acknowledged(
    start_billing: StartBilling, payment_keys_dir: Path
) -> None:
    billing = start_billing(FAST.updated({"callbacks": "none"}))
    _, transaction = _paid_without_callback(billing)
    keys = load_provider_keys(payment_keys_dir)
    unknown = {**transaction, "out_trade_no": "20260101000000000000000000"}
    with pytest.raises(grpc.RpcError) as caught:
        notify(billing, *callback(keys, unknown))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # the provider will retry it
    # Reported through another provider's route: not this payment's provider.
    with pytest.raises(grpc.RpcError) as elsewhere:
        notify(billing, *callback(keys, transaction), provider="alipay")
    assert elsewhere.value.code() == grpc.StatusCode.NOT_FOUND
