"""Settling a payment from what the provider reports, exactly once.

Callbacks, order queries (the resolver, a retried CreatePayment) and the sandbox's
duplicate and reordered deliveries all end here. The payment row is locked, so
concurrent reports of one payment run one after the other; a report that arrives after
the payment settled changes nothing; and the ledger's unique (kind, reference) is the
last guard: a payment can be credited once only. A success the provider reports always
wins over what billing assumed meanwhile (a payment closed here but paid there is
credited: the payer's money was taken).
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime

from sqlmodel import Session, select

from servers.billing.ledger import DuplicateLedgerEntry, get_customer, post_entry
from servers.billing.models import LedgerEntry, LedgerEntryKind
from servers.billing.payments import alerts, idempotency
from servers.billing.payments.models import Payment, PaymentState
from servers.billing.payments.provider import ProviderTransaction

log = logging.getLogger("palmgrid.payments")

CREATE_PAYMENT = "CreatePayment"
_FAILED_STATES = {"PAYERROR": (PaymentState.FAILED, "PAYMENT_DECLINED")}
_CLOSED = (PaymentState.CLOSED, "CLOSED_AT_PROVIDER")


class Outcome(enum.StrEnum):
    CREDITED = "CREDITED"  # this call booked the credit
    ALREADY_SETTLED = "ALREADY_SETTLED"  # nothing to do: settled before
    FAILED = "FAILED"  # this call marked it FAILED or CLOSED
    PENDING = "PENDING"  # the provider has no result yet
    MISMATCH = "MISMATCH"  # the report does not match the payment: left for reconciliation


def lock_payment(session: Session, payment_id: str) -> Payment | None:
    """The payment, locked for update until the transaction ends."""
    query = select(Payment).where(Payment.id == payment_id).with_for_update()
    return session.exec(query).first()


def apply_transaction(
    session: Session,
    payment: Payment,
    transaction: ProviderTransaction,
    *,
    merchant_id: str,
    app_id: str,
    threshold_fen: int,
    now: datetime,
) -> Outcome:
    """Bring a locked `payment` in line with the provider's `transaction`, in the
    caller's transaction (the caller commits)."""
    if (
        transaction.out_trade_no != payment.id
        or transaction.merchant_id != merchant_id
        or transaction.app_id != app_id
    ):
        log.error("provider report for another order", extra={"payment": payment.name})
        return Outcome.MISMATCH
    if transaction.paid:
        return _credit(session, payment, transaction, threshold_fen=threshold_fen, now=now)
    if transaction.failed and payment.state == PaymentState.PENDING:
        state, reason = _FAILED_STATES.get(transaction.trade_state, _CLOSED)
        finish(session, payment, state, reason, now=now)
        return Outcome.FAILED
    if payment.state == PaymentState.PENDING:
        return Outcome.PENDING
    return Outcome.ALREADY_SETTLED


def finish(
    session: Session, payment: Payment, state: PaymentState, reason: str, *, now: datetime
) -> None:
    """Mark a PENDING payment FAILED or CLOSED (nothing is credited) and complete the
    CreatePayment request that made it."""
    payment.state = state.value
    payment.failure_reason = reason
    payment.complete_time = now
    payment.checkout_payload = ""
    payment.update_time = now
    session.add(payment)
    _complete_request(session, payment, now)


def _credit(
    session: Session,
    payment: Payment,
    transaction: ProviderTransaction,
    *,
    threshold_fen: int,
    now: datetime,
) -> Outcome:
    if payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        return Outcome.ALREADY_SETTLED
    if transaction.total_fen != payment.amount_fen:
        log.error(
            "provider amount differs from the payment",
            extra={
                "payment": payment.name,
                "provider_fen": transaction.total_fen,
                "payment_fen": payment.amount_fen,
            },
        )
        return Outcome.MISMATCH
    if payment.state != PaymentState.PENDING:
        log.warning(
            "provider reports a payment billing had given up as paid; crediting it",
            extra={"payment": payment.name, "state": payment.state},
        )
    paid_at = transaction.success_time or now
    try:
        entry = post_entry(
            session,
            customer_id=payment.customer_id,
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=payment.amount_fen,
            reference=payment.name,
            occurred_at=paid_at,
            now=now,
            note=f"{payment.channel} {transaction.transaction_id}",
        )
    except DuplicateLedgerEntry:
        # Booked by an earlier settlement whose payment update did not survive: the
        # ledger is right, bring the payment in line.
        entry = _entry_of(session, payment)
    payment.state = PaymentState.SUCCEEDED.value
    payment.provider_order_id = transaction.transaction_id
    payment.complete_time = paid_at
    payment.ledger_entry_id = entry.id
    payment.failure_reason = ""
    payment.checkout_payload = ""
    payment.update_time = now
    session.add(payment)
    _complete_request(session, payment, now)
    customer = get_customer(session, payment.customer_id)
    if customer is not None:
        alerts.after_ledger_entry(
            session, customer=customer, entry=entry, threshold_fen=threshold_fen, now=now
        )
    alerts.payment_succeeded(
        session,
        customer_id=payment.customer_id,
        payment_name=payment.name,
        amount_fen=payment.amount_fen,
        now=now,
    )
    return Outcome.CREDITED


def _entry_of(session: Session, payment: Payment) -> LedgerEntry:
    query = select(LedgerEntry).where(
        LedgerEntry.kind == LedgerEntryKind.PAYMENT.value, LedgerEntry.reference == payment.name
    )
    return session.exec(query).one()


def _complete_request(session: Session, payment: Payment, now: datetime) -> None:
    if payment.request_id:
        idempotency.complete(
            session, operation=CREATE_PAYMENT, request_id=payment.request_id, now=now
        )
