"""The daily reconciliation of the provider's statement against the ledger (SQLite and
PostgreSQL): a balanced day, and each kind of difference reported."""

from __future__ import annotations

from datetime import datetime, timedelta

import grpc
import pytest

from palmgrid.billing.v1 import billing_admin_service_pb2, payment_pb2
from servers.runtime import CHINA_STANDARD_TIME, SettableClock
from tests.billing.payments_support import (
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

CUSTOMER_ID = "3100000030"
STATE = payment_pb2.ReconciliationState


def _today() -> str:
    return datetime.now(CHINA_STANDARD_TIME).date().isoformat()


def _pay(billing: Billing, amount: int) -> str:
    payer = billing.as_customer(CUSTOMER_ID)
    name = payer.pay(CUSTOMER_ID, amount).name
    wait_until(lambda: billing.sandbox.charges(name.rsplit("/", 1)[-1]))
    return name


def _settled(billing: Billing, name: str) -> None:
    payer = billing.as_customer(CUSTOMER_ID)
    wait_until(lambda: payer.get(name).state == payment_pb2.PAYMENT_STATE_SUCCEEDED)


def _reconcile(billing: Billing, day: str) -> payment_pb2.ReconciliationReport:
    """Run the day's reconciliation and wait for its result. The day has to have ended,
    so billing's payment clock is moved a day on first."""
    billing.payments.clock = SettableClock(billing.payments.now() + timedelta(days=1))
    staff = billing.as_staff(everywhere=True).metadata()
    started = billing.admin.RunReconciliation(
        billing_admin_service_pb2.RunReconciliationRequest(name=f"reconciliationReports/{day}"),
        metadata=staff,
        timeout=10,
    )
    assert started.state == STATE.RECONCILIATION_STATE_RUNNING and started.runner == "users/clerk"

    def finished() -> payment_pb2.ReconciliationReport | None:
        report: payment_pb2.ReconciliationReport = billing.admin.GetReconciliationReport(
            billing_admin_service_pb2.GetReconciliationReportRequest(name=started.name),
            metadata=staff,
            timeout=10,
        )
        return None if report.state == STATE.RECONCILIATION_STATE_RUNNING else report

    report: payment_pb2.ReconciliationReport = wait_until(finished)
    return report


def test_a_day_whose_statement_matches_the_ledger_is_balanced(
    start_billing: StartBilling,
) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    first, second = _pay(billing, 5000), _pay(billing, 1234)
    _settled(billing, first)
    _settled(billing, second)

    report = _reconcile(billing, _today())

    assert report.state == STATE.RECONCILIATION_STATE_BALANCED, report.discrepancies
    assert report.discrepancy_count == 0 and report.complete_time.seconds > 0
    wechat = {c.channel: c for c in report.channels}[payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY]
    assert (wechat.provider_payment_count, wechat.provider_payment_fen) == (2, 6234)
    assert (wechat.ledger_payment_count, wechat.ledger_payment_fen) == (2, 6234)
    assert wechat.matched_count == 2 and wechat.statement_time.seconds > 0
    listed = billing.admin.ListReconciliationReports(
        billing_admin_service_pb2.ListReconciliationReportsRequest(),
        metadata=billing.as_staff(everywhere=True).metadata(),
        timeout=10,
    )
    assert [r.name for r in listed.reconciliation_reports] == [report.name]


def test_each_difference_is_reported(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    kept, changed = _pay(billing, 1000), _pay(billing, 2000)
    _settled(billing, kept)
    _settled(billing, changed)
    billing.sandbox.update_behaviour(callbacks="none")
    lost = _pay(billing, 3000)  # paid, but its result has not reached billing yet

    orders = billing.sandbox.book.orders
    orders[kept.rsplit("/", 1)[-1]].hidden_from_statement = True
    orders[changed.rsplit("/", 1)[-1]].total_fen = 2001

    report = _reconcile(billing, _today())

    assert report.state == STATE.RECONCILIATION_STATE_DISCREPANCIES_FOUND
    found = {
        (d.kind, d.source, d.provider_amount_fen, d.ledger_amount_fen) for d in report.discrepancies
    }
    kinds = payment_pb2.DiscrepancyKind
    assert found == {
        (kinds.DISCREPANCY_KIND_MISSING_AT_PROVIDER, kept, 0, 1000),
        (kinds.DISCREPANCY_KIND_AMOUNT_MISMATCH, changed, 2001, 2000),
        (kinds.DISCREPANCY_KIND_MISSING_IN_LEDGER, lost, 3000, 0),
    }
    assert report.discrepancy_count == 3

    # The lost result is found by the resolver; the day run again has one fewer.
    billing.payments.jobs.run_once()
    again = _reconcile(billing, _today())
    assert again.discrepancy_count == 2


def test_refunds_are_reconciled_on_the_day_they_succeed(start_billing: StartBilling) -> None:
    billing = start_billing()
    billing.add_customer(CUSTOMER_ID)
    paid = _pay(billing, 5000)
    _settled(billing, paid)
    refund = billing.admin.CreateRefund(
        billing_admin_service_pb2.CreateRefundRequest(
            parent=paid,
            refund=payment_pb2.Refund(amount_fen=700, reason="多缴"),
            request_id="0b9d0f6e-9a51-4d55-8a51-0f7c1e9d2a11",
        ),
        metadata=billing.as_staff(everywhere=True).metadata(),
        timeout=10,
    )
    wait_until(
        lambda: (
            billing.admin.GetRefund(
                billing_admin_service_pb2.GetRefundRequest(name=refund.name),
                metadata=billing.as_staff(everywhere=True).metadata(),
                timeout=10,
            ).state
            == payment_pb2.REFUND_STATE_SUCCEEDED
        )
    )
    report = _reconcile(billing, _today())
    assert report.state == STATE.RECONCILIATION_STATE_BALANCED, report.discrepancies
    wechat = {c.channel: c for c in report.channels}[payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY]
    assert (wechat.provider_refund_count, wechat.provider_refund_fen) == (1, 700)
    assert (wechat.ledger_refund_count, wechat.ledger_refund_fen) == (1, 700)


def test_a_day_not_ended_is_refused_and_a_missing_statement_fails(
    start_billing: StartBilling,
) -> None:
    billing = start_billing()
    staff = billing.as_staff(everywhere=True).metadata()
    with pytest.raises(grpc.RpcError) as caught:
        billing.admin.RunReconciliation(
            billing_admin_service_pb2.RunReconciliationRequest(
                name=f"reconciliationReports/{_today()}"
            ),
            metadata=staff,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    billing.sandbox.stop()
    report = _reconcile(billing, _today())
    assert report.state == STATE.RECONCILIATION_STATE_FAILED
    assert "statement" in report.failure_message
