"""The resolver: PENDING payments are settled by asking the provider, never by placing
or charging again.

It covers every way a result can go missing: a callback lost or not yet retried, a
provider call that timed out, a process killed between the provider's confirmation and
the ledger write. The payment jobs run it at start-up and then every few seconds; each
payment is asked about once it is `resolve_after_seconds` old, and again at that
spacing. What the provider says:

| provider | payment |
|---|---|
| paid (SUCCESS, or REFUND after a refund) | SUCCEEDED and credited (`booking.py`) |
| PAYERROR | FAILED (PAYMENT_DECLINED) |
| CLOSED, REVOKED | CLOSED |
| not paid yet, after the payment's expire time | closed at the provider, then CLOSED |
| no such order, after the expire time | CLOSED (NOT_PLACED): it was never placed |
| no answer | asked again later |
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, select

from servers.billing.changes import customer_data_changed
from servers.billing.payments import booking
from servers.billing.payments.booking import Outcome
from servers.billing.payments.models import Payment, PaymentOrigin, PaymentState
from servers.billing.payments.provider import ProviderError, ProviderRejected

if TYPE_CHECKING:
    from servers.billing.payments.context import PaymentContext

log = logging.getLogger("palmgrid.payments.recovery")


def resolve_pending(service: PaymentContext, *, limit: int = 100) -> int:
    """Ask the provider about PENDING payments that are due; returns how many settled."""
    now = service.now()
    spacing = timedelta(seconds=service.settings.resolve_after_seconds)
    with service.runtime.session() as session:
        due = session.exec(
            select(Payment.id)
            .where(
                Payment.state == PaymentState.PENDING.value,
                Payment.origin == PaymentOrigin.APP.value,
                Payment.create_time <= now - spacing,
                sa.or_(col(Payment.check_time).is_(None), col(Payment.check_time) <= now - spacing),
            )
            .order_by(col(Payment.create_time))
            .limit(limit)
        ).all()
    settled = 0
    for payment_id in due:
        outcome = resolve_payment(service, payment_id)
        if outcome in (Outcome.CREDITED, Outcome.FAILED):
            settled += 1
    if settled:
        log.info("pending payments resolved", extra={"settled": settled, "asked": len(due)})
    return settled


def resolve_payment(service: PaymentContext, payment_id: str) -> Outcome | None:
    """Ask the provider about one payment and settle it; None when the provider could
    not be asked."""
    try:
        transaction = service.provider.query_order(payment_id)
    except ProviderError as exc:
        log.info("provider not asked", extra={"payment": payment_id, "error": str(exc)})
        _mark_checked(service, payment_id)
        return None
    now = service.now()
    with service.runtime.session(write=True) as session:
        payment = booking.lock_payment(session, payment_id)
        if payment is None:
            return None
        expired = payment.expire_time is not None and now >= payment.expire_time
        payment.check_time = now
        session.add(payment)
        if transaction is None:
            if expired and payment.state == PaymentState.PENDING:
                booking.finish(session, payment, PaymentState.CLOSED, "NOT_PLACED", now=now)
                return Outcome.FAILED
            return Outcome.PENDING
        outcome = booking.apply_transaction(
            session,
            payment,
            transaction,
            merchant_id=service.settings.merchant_id,
            app_id=service.settings.app_id,
            threshold_fen=service.settings.low_balance_threshold_fen,
            now=now,
        )
        customer_id = payment.customer_id
    if outcome == Outcome.CREDITED:
        customer_data_changed([customer_id])
    if outcome == Outcome.PENDING and expired:
        return _close_expired(service, payment_id)
    return outcome


def _close_expired(service: PaymentContext, payment_id: str) -> Outcome | None:
    """Close an order the payer did not pay in time, so it can no longer be paid."""
    try:
        service.provider.close_order(payment_id)
    except ProviderRejected as exc:
        if exc.code == "ORDERPAID":  # paid at the last moment: settle it
            return resolve_payment(service, payment_id)
        log.warning("order not closed", extra={"payment": payment_id, "error": str(exc)})
        return None
    except ProviderError as exc:
        log.info("order not closed yet", extra={"payment": payment_id, "error": str(exc)})
        return None
    now = service.now()
    with service.runtime.session(write=True) as session:
        payment = booking.lock_payment(session, payment_id)
        if payment is None or payment.state != PaymentState.PENDING:
            return Outcome.ALREADY_SETTLED
        booking.finish(session, payment, PaymentState.CLOSED, "EXPIRED", now=now)
    return Outcome.FAILED


def _mark_checked(service: PaymentContext, payment_id: str) -> None:
    with service.runtime.session(write=True) as session:
        payment = session.get(Payment, payment_id)
        if payment is not None:
            payment.check_time = service.now()
            session.add(payment)
