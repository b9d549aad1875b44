"""The payment protocol: signatures, encrypted callback resources and statements."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from servers.billing.payments import protocol, statement
from servers.billing.payments.keys import load_merchant_keys, load_provider_keys
from servers.billing.payments.protocol import ProtocolError
from servers.billing.payments.statement import StatementRecord
from tests.billing.payments_sandbox_support import payment_keys_dir

__all__ = ["payment_keys_dir"]


def test_provider_signature_verifies_and_detects_changes(payment_keys_dir: Path) -> None:
    provider = load_provider_keys(payment_keys_dir)
    merchant = load_merchant_keys(payment_keys_dir)
    body = '{"id":"EV-1","summary":"支付成功"}'.encode()
    headers = protocol.signed_headers(provider.private_key, provider.serial, body)
    check: dict[str, Any] = {
        "public_key": merchant.provider_public_key,
        "serial": merchant.provider_serial,
        "max_skew_seconds": 300,
    }
    protocol.verify_signed({k.lower(): v for k, v in headers.items()}, body, **check)

    with pytest.raises(ProtocolError, match="signature"):
        protocol.verify_signed(headers, body.replace(b"EV-1", b"EV-2"), **check)
    with pytest.raises(ProtocolError, match="serial"):
        protocol.verify_signed({**headers, protocol.HEADER_SERIAL: "0" * 40}, body, **check)
    with pytest.raises(ProtocolError, match="timestamp"):
        protocol.verify_signed(headers, body, **check, now=time.time() + 3600)
    missing = {k: v for k, v in headers.items() if k != protocol.HEADER_NONCE}
    with pytest.raises(ProtocolError, match="missing header"):
        protocol.verify_signed(missing, body, **check)


def test_a_signature_by_the_merchant_key_is_not_the_providers(payment_keys_dir: Path) -> None:
    merchant = load_merchant_keys(payment_keys_dir)
    body = b"{}"
    forged = protocol.signed_headers(merchant.private_key, merchant.provider_serial, body)
    with pytest.raises(ProtocolError, match="signature"):
        protocol.verify_signed(
            forged,
            body,
            public_key=merchant.provider_public_key,
            serial=merchant.provider_serial,
            max_skew_seconds=300,
        )


def test_resource_round_trips_and_refuses_tampering(payment_keys_dir: Path) -> None:
    key = load_merchant_keys(payment_keys_dir).api_v3_key
    plain = b'{"out_trade_no":"p1","amount":{"total":5000}}'
    resource = protocol.encrypt_resource(
        key, plain, associated_data="transaction", original_type="transaction"
    )
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert protocol.decrypt_resource(key, resource) == plain

    with pytest.raises(ProtocolError):
        protocol.decrypt_resource(key, {**resource, "associated_data": "refund"})
    with pytest.raises(ProtocolError):
        protocol.decrypt_resource(b"x" * 32, resource)
    flipped = bytearray(protocol.base64.b64decode(resource["ciphertext"]))
    flipped[0] ^= 1
    tampered = {**resource, "ciphertext": protocol.base64.b64encode(bytes(flipped)).decode()}
    with pytest.raises(ProtocolError):
        protocol.decrypt_resource(key, tampered)


def test_authorization_header_parses() -> None:
    params = protocol.parse_authorization(
        'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="2",'
        'serial_no="S",signature="x"'
    )
    assert params["mchid"] == "1" and params["serial_no"] == "S"
    with pytest.raises(ProtocolError):
        protocol.parse_authorization('Bearer mchid="1"')


def test_amounts_in_yuan_convert_to_fen_exactly() -> None:
    assert statement.fen_of("0.01") == 1
    assert statement.fen_of("12.34") == 1234
    assert statement.fen_of("100000.00") == 10_000_000
    assert statement.yuan(1234) == "12.34" and statement.yuan(5) == "0.05"
    for bad in ("12.3", "1e3", "-1.00", "12.345", ""):
        with pytest.raises(ProtocolError):
            statement.fen_of(bad)


def test_statement_round_trips_and_checks_its_totals() -> None:
    moment = datetime(2026, 5, 1, 2, 3, 4, tzinfo=UTC)
    records = [
        StatementRecord("SUCCESS", moment, "4200001", "p1", 5000),
        StatementRecord("REFUND", moment, "4200001", "p1", 1999, "5030001", "r1"),
    ]
    text = statement.write(records, app_id="wxapp", merchant_id="1900000109")
    # Times are China Standard Time.
    assert text.decode().splitlines()[1].startswith("`2026-05-01 10:03:04,")
    assert statement.read(text) == [
        StatementRecord("SUCCESS", moment, "4200001", "p1", 5000),
        StatementRecord("REFUND", moment, "4200001", "p1", 1999, "5030001", "r1"),
    ]
    broken = text.replace(b"`50.00", b"`51.00", 1)  # a line, not the total
    with pytest.raises(ProtocolError, match="totals"):
        statement.read(broken)
