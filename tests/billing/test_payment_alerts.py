"""Balance alerts and payment messages go into the outbox in the transaction of their
event, and stay there, retried with backoff, until the notification service takes them
(it is declared but not built yet: it answers UNIMPLEMENTED). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from palmgrid.billing.v1 import billing_admin_service_pb2, payment_pb2
from palmgrid.notification.v1 import notification_service_pb2_grpc
from servers.billing.ledger import post_entry
from servers.billing.models import BalanceRow, BillingMode, Customer, LedgerEntryKind
from servers.billing.payments import alerts, outbox
from servers.billing.payments.models import OutboxMessage
from servers.runtime import Runtime, Settings, create_engine, create_server
from servers.runtime.declared import declared_only
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import AssertionVerifier
from servers.runtime.migrations import migrate
from servers.runtime.tls import server_credentials_for
from tests.billing.payments_support import (
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

PREPAID_ID, POSTPAID_ID = "3100000040", "3100000041"
THRESHOLD_FEN = 3000


def _messages(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.session() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())  # type: ignore[arg-type]


def test_payments_and_low_balance_are_queued_with_their_events(
    start_billing: StartBilling,
) -> None:
    billing = start_billing()
    billing.add_customer(PREPAID_ID, prepaid=True)
    payer = billing.as_customer(PREPAID_ID)
    paid = payer.pay(PREPAID_ID, 5000).name
    wait_until(lambda: payer.get(paid).state == payment_pb2.PAYMENT_STATE_SUCCEEDED)
    staff = billing.as_staff(everywhere=True).metadata()

    for amount in (2500, 500):  # 50 → 25 yuan crosses 30; 25 → 20 does not again
        billing.admin.CreateRefund(
            billing_admin_service_pb2.CreateRefundRequest(
                parent=paid,
                refund=payment_pb2.Refund(amount_fen=amount, reason="退费"),
                request_id=str(uuid.uuid4()),
            ),
            metadata=staff,
            timeout=10,
        )

    queued = [(m.template, json.loads(m.parameters)) for m in _messages(billing.runtime)]
    assert queued == [
        ("billing.payment_succeeded", {"amount": "50.00"}),
        ("billing.low_balance", {"balance": "25.00", "threshold": "30.00"}),
    ]
    assert {m.state for m in _messages(billing.runtime)} == {"PENDING"}
    assert {m.customer_id for m in _messages(billing.runtime)} == {PREPAID_ID}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """Billing's runtime under mutual TLS, with a notification service that is declared
    only: billing's certificate lets it call, the service answers UNIMPLEMENTED."""
    migrate("billing", database_url)
    ensure_dev_pki(tmp_path / "tls")
    probe = Settings(data_dir=tmp_path, billing_database_url=database_url)
    server, port = create_server(
        [
            declared_only(
                notification_service_pb2_grpc, "palmgrid.notification.v1.NotificationService"
            )
        ],
        domain="notification",
        credentials=server_credentials_for(probe),
        verifier=AssertionVerifier({}, audience="billing"),
        service_accounts=probe.service_accounts,
    )
    server.start()
    settings = Settings(
        data_dir=tmp_path,
        billing_database_url=database_url,
        notification_target=f"localhost:{port}",
    )
    running = Runtime("billing", settings, create_engine(database_url))
    with running.session(write=True) as session:
        for customer_id, mode in (
            (PREPAID_ID, BillingMode.PREPAID),
            (POSTPAID_ID, BillingMode.POSTPAID),
        ):
            session.add(
                Customer(
                    id=customer_id,
                    holder_name="王五",
                    address="曲靖市 3 号",
                    supply_office="QJ-QL",
                    area_code="A02",
                    tariff="residential-tiered",
                    billing_mode=mode.value,
                    source_update_time=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=customer_id, net_fen=1000))
    yield running
    running.close()
    server.stop(0)


def _bill(runtime: Runtime, customer_id: str, amount_fen: int, month: str) -> str | None:
    """Book a bill charge the way the core does, then ask for its alert."""
    now = datetime.now(UTC)
    with runtime.session(write=True) as session:
        entry = post_entry(
            session,
            customer_id=customer_id,
            kind=LedgerEntryKind.BILL,
            amount_fen=-amount_fen,
            reference=f"customers/{customer_id}/bills/{month}",
            occurred_at=now,
            now=now,
        )
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return alerts.after_ledger_entry(
            session, customer=customer, entry=entry, threshold_fen=THRESHOLD_FEN, now=now
        )


def test_a_prepaid_balance_turning_negative_queues_an_arrears_alert(runtime: Runtime) -> None:
    assert _bill(runtime, PREPAID_ID, 1500, "2026-01") == alerts.ARREARS
    assert _bill(runtime, PREPAID_ID, 100, "2026-02") is None  # already in arrears
    assert _bill(runtime, POSTPAID_ID, 1500, "2026-01") is None  # postpaid: billed, not alerted
    [message] = _messages(runtime)
    assert (message.template, json.loads(message.parameters)) == (
        alerts.ARREARS,
        {"arrears": "5.00"},
    )
    assert message.target == f"customers/{PREPAID_ID}/balance"


def test_undelivered_messages_stay_pending_and_are_retried_later(runtime: Runtime) -> None:
    _bill(runtime, PREPAID_ID, 1500, "2026-01")
    now = datetime.now(UTC)

    result = outbox.deliver_due(runtime, now=now)

    assert (result.sent, result.failed) == (0, 1)
    [message] = _messages(runtime)
    assert message.state == "PENDING" and message.attempts == 1
    assert message.last_error.startswith("UNIMPLEMENTED")
    assert message.next_attempt_time > now + timedelta(seconds=5)
    assert outbox.deliver_due(runtime, now=now + timedelta(seconds=1)).failed == 0  # backoff
    later = outbox.deliver_due(runtime, now=now + timedelta(minutes=5))
    assert later.failed == 1 and _messages(runtime)[0].attempts == 2


def test_an_event_queues_its_message_once(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.session(write=True) as session:
        for _ in range(3):
            alerts.payment_succeeded(
                session,
                customer_id=PREPAID_ID,
                payment_name=f"customers/{PREPAID_ID}/payments/p1",
                amount_fen=100,
                now=now,
            )
            session.flush()
    assert len(_messages(runtime)) == 1
