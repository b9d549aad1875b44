"""CreatePayment: record the payment and claim its request id in one transaction, then
place the order with the provider.

1. One transaction inserts the idempotency key and the PENDING payment (see
   `idempotency.py` for what a repeated key gets).
2. The order is placed with the payment id as `out_trade_no`, outside any transaction.
3. A second transaction stores the prepay id and checkout payload and completes the
   key. A result callback may already have settled the payment by then; it is not
   undone.

When the provider does not answer, nothing is assumed: the payment stays PENDING, the
key's lease is released and the caller gets UNAVAILABLE. A retry with the same
request id places the same order again (the provider answers with the same prepay id,
or says it is paid); the resolver asks the provider meanwhile. No path places a second
order for one payment or charges the payer twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from palmgrid.billing.v1 import billing_service_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing.archive import customer_id_of
from servers.billing.payments import booking, faults, idempotency, recovery
from servers.billing.payments.ids import new_id
from servers.billing.payments.models import (
    Payment,
    PaymentOrigin,
    PaymentRequest,
    PaymentState,
    ProviderCall,
)
from servers.billing.payments.provider import (
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnreachable,
)
from servers.billing.payments.resources import channel_name
from servers.billing.payments.service import PROVIDER_OF_CHANNEL, PaymentService
from servers.billing.scope import authorize_customer
from servers.runtime import NotFound, Unavailable
from servers.runtime.idempotency import fingerprint

RETRY_AFTER = timedelta(seconds=2)


def create_payment(
    service: PaymentService,
    request: billing_service_pb2.CreatePaymentRequest,
    principal: identity_pb2.Principal,
) -> Payment:
    """The payment for `request`: new, or the one its request id created before."""
    customer_id = customer_id_of(request.parent)
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
    channel = channel_name(request.channel)
    digest = fingerprint([request.parent, request.amount_fen, channel, principal.user])
    now = service.now()

    def record(session: Session, key: PaymentRequest) -> None:
        payment = Payment(
            id=new_id(now),
            customer_id=customer_id,
            amount_fen=request.amount_fen,
            channel=channel,
            origin=PaymentOrigin.APP.value,
            provider=PROVIDER_OF_CHANNEL[channel],
            request_id=request.request_id,
            payer=principal.user,
            create_time=now,
            expire_time=now + timedelta(seconds=service.settings.pending_ttl_seconds),
            update_time=now,
        )
        session.add(payment)
        key.resource = payment.name

    claim = idempotency.claim(
        service.runtime,
        operation=booking.CREATE_PAYMENT,
        request_id=request.request_id,
        digest=digest,
        lease=timedelta(seconds=service.settings.lease_seconds),
        now=now,
        create=record,
    )
    payment = load_payment(service, claim.request.resource)
    if claim.owner is None:
        return payment
    return _place_order(service, payment, claim.owner)


def load_payment(service: PaymentService, name: str) -> Payment:
    with service.runtime.session() as session:
        payment = session.get(Payment, name.rsplit("/", 1)[-1])
    if payment is None:
        raise NotFound(f"{name} not found")
    return payment


def _place_order(service: PaymentService, payment: Payment, owner: str) -> Payment:
    """Place (or place again) the payment's order while holding its request's lease."""
    now = service.now()
    expired = payment.expire_time is not None and now >= payment.expire_time
    if payment.state != PaymentState.PENDING or expired:
        # Settled or given up meanwhile: nothing to place.
        return _complete(service, payment, owner, now)
    try:
        prepay_id = service.provider.create_order(
            out_trade_no=payment.id,
            amount_fen=payment.amount_fen,
            description=f"电费 户号{payment.customer_id}",
            expire_time=payment.expire_time or now,
            notify_url=service.notify_url,
        )
    except ProviderRejected as exc:
        if exc.code == "ORDERPAID":
            # Placed and paid before (a takeover after a lost answer): settle it.
            recovery.resolve_payment(service, payment.id)
            return _complete(service, payment, owner, service.now())
        return _rejected(service, payment, owner, exc)
    except (ProviderUnreachable, ProviderOutcomeUnknown) as exc:
        idempotency.release(
            service.runtime,
            operation=booking.CREATE_PAYMENT,
            request_id=payment.request_id,
            owner=owner,
            now=service.now(),
        )
        raise Unavailable(
            "the payment provider did not confirm the order; retry with the same requestId",
            retry_after=RETRY_AFTER,
            metadata={"payment": payment.name},
        ) from exc
    faults.reach(service.settings, "crash_after_provider_order_created")
    payload = service.provider.checkout_payload(prepay_id)
    now = service.now()
    with service.runtime.session(write=True) as session:
        locked = booking.lock_payment(session, payment.id)
        if locked is None:
            raise NotFound(f"{payment.name} not found")
        locked.prepay_id = prepay_id
        locked.provider_call = ProviderCall.ACCEPTED.value
        if locked.state == PaymentState.PENDING:
            locked.checkout_payload = payload
        locked.update_time = now
        session.add(locked)
        idempotency.complete(
            session,
            operation=booking.CREATE_PAYMENT,
            request_id=locked.request_id,
            owner=owner,
            now=now,
        )
    return locked


def _rejected(
    service: PaymentService, payment: Payment, owner: str, error: ProviderRejected
) -> Payment:
    """The provider refused the order: nothing exists there, the payment FAILED."""
    now = service.now()
    with service.runtime.session(write=True) as session:
        locked = booking.lock_payment(session, payment.id)
        if locked is None:
            raise NotFound(f"{payment.name} not found")
        if locked.state == PaymentState.PENDING:
            locked.provider_call = ProviderCall.REJECTED.value
            booking.finish(session, locked, PaymentState.FAILED, "PROVIDER_REJECTED", now=now)
        idempotency.complete(
            session,
            operation=booking.CREATE_PAYMENT,
            request_id=locked.request_id,
            owner=owner,
            now=now,
        )
    return locked


def _complete(service: PaymentService, payment: Payment, owner: str, now: datetime) -> Payment:
    with service.runtime.session(write=True) as session:
        idempotency.complete(
            session,
            operation=booking.CREATE_PAYMENT,
            request_id=payment.request_id,
            owner=owner,
            now=now,
        )
        current = session.get(Payment, payment.id)
    return current or payment
