"""Reading payments: one payment, a customer's history (newest first), the amount of
payments started but not yet confirmed. The caller's data scope is checked first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_service_pb2
from servers.billing.archive import customer_id_of
from servers.billing.payments.models import Payment, PaymentState
from servers.billing.scope import authorize_customer
from servers.runtime import NotFound, paging

if TYPE_CHECKING:
    from servers.billing.payments.service import PaymentService

DEFAULT_PAGE_SIZE = 50
# A customer's payments: newest first, ties broken by id.
_ORDER = (col(Payment.create_time), col(Payment.id))


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
    size = paging.page_size(request.page_size, DEFAULT_PAGE_SIZE)
    after = paging.decode_token(request.page_token, [request.parent], types=(str, str))
    query = select(Payment).where(Payment.customer_id == customer_id)
    if after is not None:
        # Strictly older than the last one returned, ties broken by id.
        key = (paging.time_from_key(after[0]), after[1])
        query = query.where(paging.descending_after(_ORDER, key))
    query = query.order_by(*(column.desc() for column in _ORDER)).limit(size + 1)
    with service.runtime.session() as session:
        authorize_customer(session, customer_id)
        rows = list(session.exec(query).all())
    token = paging.next_page_token(
        rows, size, lambda row: [paging.time_key(row.create_time), row.id], [request.parent]
    )
    return rows[:size], token


def pending_fen(session: Session, customer_id: str) -> int:
    """The sum of the customer's PENDING payments, in fen."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(Payment.amount_fen), 0)).where(
            Payment.customer_id == customer_id, Payment.state == PaymentState.PENDING.value
        )
    ).one()
    return int(total)
