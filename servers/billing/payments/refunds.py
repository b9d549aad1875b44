"""Refunds of in-app payments back through their provider.

CreateRefund books the refund as a REFUND ledger entry (a debit) in the transaction
that records it and claims its request id, so the money is held back at once; then it
asks the provider (`out_refund_no` is the refund id, so asking again is one refund).
The provider's answer, its refund callback or the refund resolver completes it:
SUCCEEDED, or FAILED with the held amount credited back (a second REFUND entry,
reference `<refund name>/reversal`). A refund the provider never received is sent
again by the resolver.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_admin_service_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing.changes import customer_data_changed
from servers.billing.ledger import get_customer, post_entry
from servers.billing.models import LedgerEntryKind
from servers.billing.payments import alerts, booking, idempotency
from servers.billing.payments.ids import new_id
from servers.billing.payments.models import (
    Payment,
    PaymentOrigin,
    PaymentRequest,
    PaymentState,
    ProviderCall,
    Refund,
    RefundState,
    RequestState,
)
from servers.billing.payments.provider import ProviderError, ProviderRefund, ProviderRejected
from servers.billing.scope import authorize_customer
from servers.runtime import FailedPrecondition, NotFound
from servers.runtime.idempotency import fingerprint

if TYPE_CHECKING:
    from servers.billing.payments.context import PaymentContext

log = logging.getLogger("palmgrid.payments.refunds")

CREATE_REFUND = "CreateRefund"


def parse_payment_name(name: str) -> tuple[str, str]:
    """(customer id, payment id) of `customers/{c}/payments/{p}[/…]`."""
    parts = name.split("/")
    return parts[1], parts[3]


def create_refund(
    service: PaymentContext,
    request: billing_admin_service_pb2.CreateRefundRequest,
    principal: identity_pb2.Principal,
) -> Refund:
    """The refund for `request`: new, or the one its request id created before."""
    customer_id, payment_id = parse_payment_name(request.parent)
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
    amount, reason = request.refund.amount_fen, request.refund.reason
    digest = fingerprint([request.parent, amount, reason, principal.user])
    now = service.now()
    created: list[str] = []

    def record(session: Session, key: PaymentRequest) -> None:
        refund = _hold(session, service, customer_id, payment_id, amount, reason, principal, now)
        key.resource = refund.name
        key.state = RequestState.COMPLETED.value
        created.append(refund.id)

    claim = idempotency.claim(
        service.runtime,
        operation=CREATE_REFUND,
        request_id=request.request_id,
        digest=digest,
        lease=timedelta(seconds=service.settings.lease_seconds),
        now=now,
        create=record,
    )
    refund_id = claim.request.resource.rsplit("/", 1)[-1]
    if created:
        customer_data_changed([customer_id])
        submit(service, refund_id)
    return load_refund(service, claim.request.resource)


def get_refund(service: PaymentContext, name: str) -> Refund:
    """The refund `customers/{c}/payments/{p}/refunds/{r}`, after the scope check."""
    customer_id, _ = parse_payment_name(name)
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
    return load_refund(service, name)


def load_refund(service: PaymentContext, name: str) -> Refund:
    with service.runtime.session() as session:
        refund = session.get(Refund, name.rsplit("/", 1)[-1])
    if refund is None or refund.name != name:
        raise NotFound(f"{name} not found")
    return refund


def _hold(
    session: Session,
    service: PaymentContext,
    customer_id: str,
    payment_id: str,
    amount: int,
    reason: str,
    principal: identity_pb2.Principal,
    now: datetime,
) -> Refund:
    """Record the refund and debit the ledger by its amount."""
    payment = booking.lock_payment(session, payment_id)
    if payment is None or payment.customer_id != customer_id:
        raise NotFound(f"customers/{customer_id}/payments/{payment_id} not found")
    if payment.origin != PaymentOrigin.APP:
        raise FailedPrecondition("only payments made in the app are refunded through a provider")
    if payment.state not in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        raise FailedPrecondition(f"a {payment.state} payment cannot be refunded")
    if payment.refunded_fen + amount > payment.amount_fen:
        left = payment.amount_fen - payment.refunded_fen
        raise FailedPrecondition(f"at most {left} fen of this payment is left to refund")
    refund = Refund(
        id=new_id(now),
        payment_id=payment.id,
        customer_id=customer_id,
        amount_fen=amount,
        reason=reason,
        requester=principal.user,
        create_time=now,
    )
    session.add(refund)
    payment.refunded_fen += amount
    if payment.refunded_fen == payment.amount_fen:
        payment.state = PaymentState.REFUNDED.value
    payment.update_time = now
    session.add(payment)
    entry = post_entry(
        session,
        customer_id=customer_id,
        kind=LedgerEntryKind.REFUND,
        amount_fen=-amount,
        reference=refund.name,
        occurred_at=now,
        now=now,
        note=reason[:200],
    )
    customer = get_customer(session, customer_id)
    if customer is not None:
        alerts.after_ledger_entry(
            session,
            customer=customer,
            entry=entry,
            threshold_fen=service.settings.low_balance_threshold_fen,
            now=now,
        )
    return refund


def submit(service: PaymentContext, refund_id: str) -> None:
    """Ask the provider for the refund (again); the answer is applied at once."""
    with service.runtime.session() as session:
        refund = session.get(Refund, refund_id)
        payment = session.get(Payment, refund.payment_id) if refund else None
    if refund is None or payment is None or refund.state != RefundState.PENDING:
        return
    try:
        report = service.provider.create_refund(
            out_trade_no=payment.id,
            out_refund_no=refund.id,
            amount_fen=refund.amount_fen,
            total_fen=payment.amount_fen,
            reason=refund.reason,
            notify_url=service.notify_url,
        )
    except ProviderRejected as exc:
        log.warning(
            "refund refused by the provider", extra={"refund": refund.name, "code": exc.code}
        )
        _settle(service, refund_id, None, failure="PROVIDER_REJECTED", rejected=True)
        return
    except ProviderError as exc:
        log.info("refund not confirmed yet", extra={"refund": refund.name, "error": str(exc)})
        _mark_checked(service, refund_id)
        return
    apply_report(service, report)


def apply_report(service: PaymentContext, report: ProviderRefund) -> None:
    """Apply what the provider says of a refund (answer, query or callback)."""
    failure = None
    if report.status in ("CLOSED", "ABNORMAL"):
        failure = f"REFUND_{report.status}"
    _settle(service, report.out_refund_no, report, failure=failure)


def resolve_pending(service: PaymentContext, *, limit: int = 100) -> int:
    """Follow up PENDING refunds with the provider; returns how many were asked about."""
    now = service.now()
    spacing = timedelta(seconds=service.settings.resolve_after_seconds)
    with service.runtime.session() as session:
        due = session.exec(
            select(Refund.id)
            .where(
                Refund.state == RefundState.PENDING.value,
                Refund.create_time <= now - spacing,
                sa.or_(col(Refund.check_time).is_(None), col(Refund.check_time) <= now - spacing),
            )
            .order_by(col(Refund.create_time))
            .limit(limit)
        ).all()
    for refund_id in due:
        try:
            report = service.provider.query_refund(refund_id)
        except ProviderError:
            _mark_checked(service, refund_id)
            continue
        if report is None:
            submit(service, refund_id)  # never reached the provider: send it again
        else:
            apply_report(service, report)
    return len(due)


def _settle(
    service: PaymentContext,
    refund_id: str,
    report: ProviderRefund | None,
    *,
    failure: str | None,
    rejected: bool = False,
) -> None:
    now = service.now()
    with service.runtime.session(write=True) as session:
        refund = session.exec(
            select(Refund).where(Refund.id == refund_id).with_for_update()
        ).first()
        if refund is None:
            raise NotFound(f"refund {refund_id} not found")
        refund.check_time = now
        if report is not None:
            refund.provider_call = ProviderCall.ACCEPTED.value
            refund.provider_refund_id = report.refund_id or refund.provider_refund_id
        elif rejected:
            refund.provider_call = ProviderCall.REJECTED.value
        session.add(refund)
        if refund.state != RefundState.PENDING:
            return
        if failure is not None:
            _fail(session, refund, failure, now)
        elif report is not None and report.status == "SUCCESS":
            refund.state = RefundState.SUCCEEDED.value
            refund.complete_time = report.success_time or now
        customer_id = refund.customer_id
    if failure is not None:
        customer_data_changed([customer_id])


def _fail(session: Session, refund: Refund, reason: str, now: datetime) -> None:
    """Mark the refund FAILED and credit the held amount back."""
    refund.state = RefundState.FAILED.value
    refund.failure_reason = reason
    refund.complete_time = now
    session.add(refund)
    payment = booking.lock_payment(session, refund.payment_id)
    if payment is not None:
        payment.refunded_fen -= refund.amount_fen
        if payment.state == PaymentState.REFUNDED:
            payment.state = PaymentState.SUCCEEDED.value
        payment.update_time = now
        session.add(payment)
    post_entry(
        session,
        customer_id=refund.customer_id,
        kind=LedgerEntryKind.REFUND,
        amount_fen=refund.amount_fen,
        reference=f"{refund.name}/reversal",
        occurred_at=now,
        now=now,
        note=f"refund failed ({reason}): amount returned",
    )


def _mark_checked(service: PaymentContext, refund_id: str) -> None:
    with service.runtime.session(write=True) as session:
        refund = session.get(Refund, refund_id)
        if refund is not None:
            refund.check_time = service.now()
            session.add(refund)
