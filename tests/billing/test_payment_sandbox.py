"""The sandbox provider over real HTTP, driven by billing's provider client: orders,
queries, closing, refunds, statements, request signatures and its behaviours."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest

from servers.billing.payments import protocol
from servers.billing.payments.keys import load_merchant_keys
from servers.billing.payments.provider import (
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnreachable,
    WechatPayV3Client,
)
from servers.billing.payments.sandbox import Behaviour, Sandbox
from servers.runtime import CHINA_STANDARD_TIME
from tests.billing.payments_sandbox_support import (
    APP_ID,
    FAST,
    MERCHANT_ID,
    payment_keys_dir,
    provider_client,
    sandbox,
    start_test_sandbox,
)
from tools.memcached import wait_for_port
from tools.ports import free_port

__all__ = ["payment_keys_dir", "sandbox"]

LATER = datetime.now(UTC) + timedelta(minutes=15)


class CallbackSink:
    """A plain HTTP endpoint that records the callbacks posted to it."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = (
            f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/paymentNotifications/wechatpay"
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sink() -> Any:
    running = CallbackSink()
    yield running
    running.close()


def _order(client: Any, number: str, amount: int = 5000, url: str = "http://127.0.0.1:9/x") -> str:
    prepay: str = client.create_order(
        out_trade_no=number,
        amount_fen=amount,
        description="电费",
        expire_time=LATER,
        notify_url=url,
    )
    return prepay


def _wait(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)
    return value


def test_paid_order_sends_a_signed_encrypted_callback(
    sandbox: Sandbox, payment_keys_dir: Path, sink: CallbackSink
) -> None:
    client = provider_client(sandbox, payment_keys_dir)
    prepay_id = _order(client, "p20260501000001", url=sink.url)
    assert prepay_id.startswith("wx")

    headers, body = _wait(lambda: sink.received and sink.received[0])
    keys = load_merchant_keys(payment_keys_dir)
    protocol.verify_signed(
        headers,
        body,
        public_key=keys.provider_public_key,
        serial=keys.provider_serial,
        max_skew_seconds=300,
    )
    event = json.loads(body)
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    transaction = json.loads(protocol.decrypt_resource(keys.api_v3_key, event["resource"]))
    assert transaction["out_trade_no"] == "p20260501000001"
    assert transaction["trade_state"] == "SUCCESS"
    assert transaction["amount"]["total"] == 5000

    queried = client.query_order("p20260501000001")
    assert queried is not None and queried.paid and queried.total_fen == 5000
    assert queried.transaction_id == transaction["transaction_id"]
    payload = json.loads(client.checkout_payload(prepay_id))
    assert payload["prepayid"] == prepay_id and payload["partnerid"] == "1900000109"


def test_an_order_placed_twice_is_one_order_and_one_charge(payment_keys_dir: Path) -> None:
    sandbox = start_test_sandbox(payment_keys_dir, FAST.updated({"confirm_delay_seconds": 0.5}))
    client = provider_client(sandbox, payment_keys_dir)
    first = _order(client, "p20260501000002")
    assert _order(client, "p20260501000002") == first
    with pytest.raises(ProviderRejected) as changed:
        _order(client, "p20260501000002", amount=1)
    assert changed.value.code == "INVALID_REQUEST"
    _wait(lambda: sandbox.charges("p20260501000002"))
    with pytest.raises(ProviderRejected) as paid:
        _order(client, "p20260501000002")
    assert paid.value.code == "ORDERPAID"
    assert sandbox.charges("p20260501000002") == 1
    [order] = sandbox.book.snapshot()
    assert order["create_requests"] == 4
    sandbox.stop()


def test_unknown_orders_and_closing(payment_keys_dir: Path) -> None:
    with start_test_sandbox(payment_keys_dir, Behaviour(outcome="never")) as provider:
        client = provider_client(provider, payment_keys_dir)
        assert client.query_order("p20260501000404") is None
        _order(client, "p20260501000003")
        client.close_order("p20260501000003")
        closed = client.query_order("p20260501000003")
        assert closed is not None and closed.trade_state == "CLOSED" and closed.failed


def test_declined_order_is_payerror_without_callback(
    payment_keys_dir: Path, sink: CallbackSink
) -> None:
    with start_test_sandbox(payment_keys_dir, FAST.updated({"outcome": "decline"})) as provider:
        client = provider_client(provider, payment_keys_dir)
        _order(client, "p20260501000004", url=sink.url)
        declined = _wait(lambda: (o := client.query_order("p20260501000004")) and o.failed and o)
        assert declined.trade_state == "PAYERROR"
        time.sleep(0.1)
        assert sink.received == []


def test_a_hanging_create_times_out_with_the_order_taken(payment_keys_dir: Path) -> None:
    behaviour = FAST.updated({"create_delay_seconds": 3.0})
    with start_test_sandbox(payment_keys_dir, behaviour) as provider:
        client = provider_client(provider, payment_keys_dir, timeout=0.3)
        with pytest.raises(ProviderOutcomeUnknown):
            _order(client, "p20260501000005")
        # The order exists and the payer pays: only a query tells billing so.
        order = _wait(lambda: (o := client.query_order("p20260501000005")) and o.paid and o)
        assert order.total_fen == 5000


def test_callbacks_sent_twice_carry_the_same_result(
    payment_keys_dir: Path, sink: CallbackSink
) -> None:
    with start_test_sandbox(payment_keys_dir, FAST.updated({"callbacks": "twice"})) as provider:
        client = provider_client(provider, payment_keys_dir)
        _order(client, "p20260501000006", url=sink.url)
        _wait(lambda: len(sink.received) == 2)
        assert sink.received[0][1] == sink.received[1][1]


def test_held_callbacks_are_delivered_newest_first(
    payment_keys_dir: Path, sink: CallbackSink
) -> None:
    with start_test_sandbox(payment_keys_dir, FAST.updated({"callbacks": "held"})) as provider:
        client = provider_client(provider, payment_keys_dir)
        _order(client, "p20260501000007", url=sink.url)
        _order(client, "p20260501000008", url=sink.url)
        _wait(lambda: provider.held_callbacks == 2)
        assert sink.received == []
        assert provider.flush_callbacks() == 2
        _wait(lambda: len(sink.received) == 2)
        keys = load_merchant_keys(payment_keys_dir)
        numbers = [
            json.loads(protocol.decrypt_resource(keys.api_v3_key, json.loads(body)["resource"]))[
                "out_trade_no"
            ]
            for _, body in sink.received
        ]
        assert numbers == ["p20260501000008", "p20260501000007"]


def test_unacknowledged_callbacks_are_retried(payment_keys_dir: Path) -> None:
    attempts: list[float] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            attempts.append(time.monotonic())
            self.send_response(500 if len(attempts) < 3 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with start_test_sandbox(payment_keys_dir) as provider:
            client = provider_client(provider, payment_keys_dir)
            _order(client, "p20260501000009", url=f"http://127.0.0.1:{httpd.server_address[1]}/")
            _wait(lambda: len(attempts) == 3)
            time.sleep(0.5)
            assert len(attempts) == 3
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_requests_must_be_signed_by_the_merchant(sandbox: Sandbox) -> None:
    reply = httpx.get(f"{sandbox.url}/v3/pay/transactions/out-trade-no/p1?mchid=1900000109")
    assert reply.status_code == 401 and reply.json()["code"] == "SIGN_ERROR"
    forged = protocol.authorization(
        merchant_id="1900000109",
        serial=sandbox.keys.merchant_serial,
        private_key=sandbox.keys.private_key,  # not the merchant's key
        method="GET",
        target="/v3/pay/transactions/out-trade-no/p1?mchid=1900000109",
        body=b"",
    )
    reply = httpx.get(
        f"{sandbox.url}/v3/pay/transactions/out-trade-no/p1?mchid=1900000109",
        headers={"Authorization": forged},
    )
    assert reply.status_code == 401


def test_answers_not_signed_by_the_provider_are_not_trusted(
    sandbox: Sandbox, payment_keys_dir: Path
) -> None:
    impostor = Sandbox(
        sandbox.keys.__class__(
            private_key=load_merchant_keys(payment_keys_dir).private_key,
            serial=sandbox.keys.serial,
            merchant_public_key=sandbox.keys.merchant_public_key,
            merchant_serial=sandbox.keys.merchant_serial,
            api_v3_key=sandbox.keys.api_v3_key,
        ),
        merchant_id="1900000109",
        app_id="wxpalmgrid0000001",
    ).start()
    try:
        client = provider_client(impostor, payment_keys_dir)
        with pytest.raises(ProviderOutcomeUnknown, match="unverifiable"):
            client.query_order("p20260501000010")
    finally:
        impostor.stop()


def test_unreachable_provider(payment_keys_dir: Path) -> None:
    # A bound socket that does not listen: connections are refused, and no other
    # connection can be given its port meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        client = WechatPayV3Client(
            f"http://127.0.0.1:{closed.getsockname()[1]}",
            merchant_id=MERCHANT_ID,
            app_id=APP_ID,
            keys=load_merchant_keys(payment_keys_dir),
            timeout=1.0,
        )
        with pytest.raises(ProviderUnreachable):
            client.query_order("p20260501000011")


def test_refunds_and_the_daily_statement(sandbox: Sandbox, payment_keys_dir: Path) -> None:
    client = provider_client(sandbox, payment_keys_dir)
    today = datetime.now(CHINA_STANDARD_TIME).date()
    assert client.statement(today) == []
    _order(client, "p20260501000012", amount=5000)
    _order(client, "p20260501000013", amount=700)
    _wait(lambda: sandbox.charges("p20260501000012") and sandbox.charges("p20260501000013"))

    refund = client.create_refund(
        out_trade_no="p20260501000012",
        out_refund_no="r20260501000001",
        amount_fen=1200,
        total_fen=5000,
        reason="多缴",
        notify_url="",
    )
    assert refund.status == "PROCESSING" and refund.amount_fen == 1200
    with pytest.raises(ProviderRejected):
        client.create_refund(
            out_trade_no="p20260501000012",
            out_refund_no="r20260501000002",
            amount_fen=3801,
            total_fen=5000,
            reason="超额",
            notify_url="",
        )
    done = _wait(lambda: (r := client.query_refund("r20260501000001")) and r.success_time and r)
    assert done.status == "SUCCESS"

    records = client.statement(today)
    payments = {r.out_trade_no: r.amount_fen for r in records if r.kind == "SUCCESS"}
    refunds = {r.out_refund_no: r.amount_fen for r in records if r.kind == "REFUND"}
    assert payments == {"p20260501000012": 5000, "p20260501000013": 700}
    assert refunds == {"r20260501000001": 1200}
    with pytest.raises(ProviderRejected):
        client.statement(today + timedelta(days=1))


def test_behaviour_control_endpoint(sandbox: Sandbox) -> None:
    reply = httpx.put(f"{sandbox.url}/sandbox/behaviour", json={"outcome": "decline"})
    assert reply.status_code == 200 and reply.json()["outcome"] == "decline"
    assert sandbox.behaviour.outcome == "decline"
    bad = httpx.put(f"{sandbox.url}/sandbox/behaviour", json={"outcome": "maybe"})
    assert bad.status_code == 400
    assert httpx.get(f"{sandbox.url}/sandbox/orders").json() == {"orders": []}


def test_the_sandbox_runs_as_its_own_process(tmp_path: Path, payment_keys_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")}
    env.update(
        PALMGRID_DATA_DIR=str(tmp_path),
        PALMGRID_GRPC_SECURITY="plaintext",
        PALMGRID_PAYMENT_KEYS_DIR=str(payment_keys_dir),
        PALMGRID_PAYMENT_PROVIDER_URL=f"http://127.0.0.1:{port}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "servers.billing.payments.sandbox", "--outcome", "decline"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        behaviour = httpx.get(f"http://127.0.0.1:{port}/sandbox/behaviour").json()
        assert behaviour["outcome"] == "decline" and behaviour["confirm_delay_seconds"] == 1.0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
