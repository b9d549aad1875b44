"""Reading payments: one payment, a customer's history (newest first), the amount of
payments started but not yet confirmed. The caller's data scope is checked first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_service_pb2
from servers.billing.archive import customer_id_of
from servers.billing.pagination import decode_token, encode_token, page_size
from servers.billing.payments.models import Payment, PaymentState
from servers.billing.scope import authorize_customer
from servers.runtime import NotFound

if TYPE_CHECKING:
    from servers.billing.payments.service import PaymentService

DEFAULT_PAGE_SIZE = 50


def get_payment(service: PaymentService, name: str) -> Payment:
    """The payment `customers/{c}/payments/{p}`, after the scope check."""
    parts = name.split("/")
    customer_id, payment_id = parts[1], parts[3]
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
        payment = session.get(Payment, payment_id)
    if payment is None or payment.customer_id != customer_id:
        raise NotFound(f"{name} not found")
    return payment


def list_payments(
    service: PaymentService, request: billing_service_pb2.ListPaymentsRequest
) -> tuple[list[Payment], str]:
    """A page of the customer's payments, newest first, and the next page token."""
    customer_id = customer_id_of(request.parent)
    size = page_size(request.page_size, DEFAULT_PAGE_SIZE)
    after = decode_token(request.page_token, [request.parent])
    query = (
        select(Payment)
        .where(Payment.customer_id == customer_id)
        .order_by(col(Payment.create_time).desc(), col(Payment.id).desc())
        .limit(size + 1)
    )
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
        if after is not None:
            # Keyset: strictly older than the last one returned, ties broken by id.
            last = session.get(Payment, str(after))
            if last is not None:
                query = query.where(
                    sa.or_(
                        col(Payment.create_time) < last.create_time,
                        sa.and_(
                            col(Payment.create_time) == last.create_time,
                            col(Payment.id) < last.id,
                        ),
                    )
                )
        rows = list(session.exec(query).all())
    token = encode_token(rows[size - 1].id, [request.parent]) if len(rows) > size else ""
    return rows[:size], token


def pending_fen(session: Session, customer_id: str) -> int:
    """The sum of the customer's PENDING payments, in fen."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(Payment.amount_fen), 0)).where(
            Payment.customer_id == customer_id, Payment.state == PaymentState.PENDING.value
        )
    ).one()
    return int(total)
