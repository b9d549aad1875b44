"""BatchRecordExternalPayments: payments made outside the app (counter, direct debit,
banks), reported by the marketing system, recorded and credited in the ledger.

The whole batch is one transaction with its request id's key: a retried batch answers
what the first one did. A payment already recorded under its name is skipped (counted
as a duplicate), so overlapping batches are harmless too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from palmgrid.billing.v1 import billing_internal_service_pb2, payment_pb2
from servers.billing.changes import customer_data_changed
from servers.billing.ledger import get_customer, post_entry
from servers.billing.models import LedgerEntryKind
from servers.billing.payments import alerts, idempotency
from servers.billing.payments.models import (
    Payment,
    PaymentOrigin,
    PaymentRequest,
    PaymentState,
    RequestState,
)
from servers.billing.payments.resources import channel_name
from servers.runtime import AlreadyExists, FieldViolation, InvalidArgument
from servers.runtime.idempotency import fingerprint

if TYPE_CHECKING:
    from servers.billing.payments.service import PaymentService

RECORD_EXTERNAL = "BatchRecordExternalPayments"


@dataclass(frozen=True)
class Recorded:
    recorded: int
    duplicates: int


def record_external(
    service: PaymentService,
    request: billing_internal_service_pb2.BatchRecordExternalPaymentsRequest,
) -> Recorded:
    """Record and credit the batch; what it did (or, for a retried batch, did before)."""
    payments = list(request.payments)
    digest = fingerprint(
        [
            (p.name, p.amount_fen, p.channel, p.provider_order_id, p.complete_time.ToSeconds())
            for p in payments
        ]
    )
    now = service.now()
    customers: set[str] = set()

    def record(session: Session, key: PaymentRequest) -> None:
        result = _record_all(session, service, payments, now, customers)
        key.state = RequestState.COMPLETED.value
        key.response = json.dumps({"recorded": result.recorded, "duplicates": result.duplicates})

    claim = idempotency.claim(
        service.runtime,
        operation=RECORD_EXTERNAL,
        request_id=request.request_id,
        digest=digest,
        lease=timedelta(seconds=service.settings.lease_seconds),
        now=now,
        create=record,
    )
    if customers:
        customer_data_changed(sorted(customers))
    answer = json.loads(claim.request.response or "{}")
    return Recorded(int(answer.get("recorded", 0)), int(answer.get("duplicates", 0)))


def _record_all(
    session: Session,
    service: PaymentService,
    payments: Sequence[payment_pb2.Payment],
    now: datetime,
    customers: set[str],
) -> Recorded:
    recorded = duplicates = 0
    for index, message in enumerate(payments):
        parts = message.name.split("/")
        customer_id, payment_id = parts[1], parts[3]
        customer = get_customer(session, customer_id)
        if customer is None:
            raise InvalidArgument(
                f"customers/{customer_id} does not exist",
                field_violations=[FieldViolation(f"payments[{index}].name", "unknown customer")],
            )
        existing = session.get(Payment, payment_id)
        if existing is not None:
            if existing.customer_id != customer_id or existing.amount_fen != message.amount_fen:
                raise AlreadyExists(
                    f"payment id {payment_id} is already used by another payment",
                    metadata={"payment": message.name},
                )
            duplicates += 1
            continue
        paid_at = message.complete_time.ToDatetime(tzinfo=UTC)
        payment = Payment(
            id=payment_id,
            customer_id=customer_id,
            amount_fen=message.amount_fen,
            channel=channel_name(message.channel),
            origin=PaymentOrigin.EXTERNAL.value,
            state=PaymentState.SUCCEEDED.value,
            provider_order_id=message.provider_order_id,
            create_time=paid_at,
            complete_time=paid_at,
            update_time=now,
        )
        entry = post_entry(
            session,
            customer_id=customer_id,
            kind=LedgerEntryKind.PAYMENT,
            amount_fen=message.amount_fen,
            reference=payment.name,
            occurred_at=paid_at,
            now=now,
            note=f"{payment.channel} {message.provider_order_id}".strip(),
        )
        payment.ledger_entry_id = entry.id
        session.add(payment)
        alerts.after_ledger_entry(
            session,
            customer=customer,
            entry=entry,
            threshold_fen=service.settings.low_balance_threshold_fen,
            now=now,
        )
        customers.add(customer_id)
        recorded += 1
    return Recorded(recorded, duplicates)
