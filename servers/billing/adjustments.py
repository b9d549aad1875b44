"""Manual adjustments by staff: credits, debits and balance refunds, each booked in the
ledger when created and never changed.

Idempotent by request id: the same request_id with the same body returns the stored
adjustment; with another body it fails with ABORTED (IDEMPOTENCY_KEY_REUSED).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from sqlmodel import Session, select

from palmgrid.billing.v1 import payment_pb2
from palmlib.masking import mask_message
from servers.billing.ledger import balance_of, post_entry
from servers.billing.models import Adjustment, LedgerEntryKind
from servers.runtime import Aborted, FailedPrecondition
from servers.runtime.protoconv import timestamp

_KINDS = {
    payment_pb2.ADJUSTMENT_KIND_CREDIT: ("CREDIT", LedgerEntryKind.ADJUSTMENT, 1),
    payment_pb2.ADJUSTMENT_KIND_DEBIT: ("DEBIT", LedgerEntryKind.ADJUSTMENT, -1),
    payment_pb2.ADJUSTMENT_KIND_BALANCE_REFUND: (
        "BALANCE_REFUND",
        LedgerEntryKind.BALANCE_REFUND,
        -1,
    ),
}


def adjustment_name(row: Adjustment) -> str:
    return f"customers/{row.customer_id}/adjustments/{row.id}"


def adjustment_resource(row: Adjustment) -> payment_pb2.Adjustment:
    """The adjustment as shown to staff (payee details masked)."""
    message = payment_pb2.Adjustment(
        name=adjustment_name(row),
        kind=payment_pb2.AdjustmentKind.Value(f"ADJUSTMENT_KIND_{row.kind}"),
        amount_fen=row.amount_fen,
        reason=row.reason,
        bill=row.bill,
        payee_name=row.payee_name,
        payee_bank=row.payee_bank,
        payee_account=row.payee_account,
        ledger_entry=f"customers/{row.customer_id}/ledgerEntries/{row.ledger_entry_id}",
        creator=row.creator,
        create_time=timestamp(row.create_time),
    )
    mask_message(message)
    return message


def _fingerprint(customer_id: str, request: payment_pb2.Adjustment) -> str:
    body = [
        customer_id,
        int(request.kind),
        request.amount_fen,
        request.reason,
        request.bill,
        request.payee_name,
        request.payee_bank,
        request.payee_account,
    ]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()


def create_adjustment(
    session: Session,
    customer_id: str,
    request: payment_pb2.Adjustment,
    *,
    request_id: str,
    creator: str,
    now: datetime,
) -> Adjustment:
    """Book the adjustment (or return the one made under `request_id`)."""
    fingerprint = _fingerprint(customer_id, request)
    existing = session.exec(select(Adjustment).where(Adjustment.request_id == request_id)).first()
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise Aborted(
                "request_id was used for another adjustment",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"requestId": request_id},
            )
        return existing
    kind, ledger_kind, sign = _KINDS[request.kind]
    if (
        kind == "BALANCE_REFUND"
        and request.amount_fen > balance_of(session, customer_id, now).balance_fen
    ):
        raise FailedPrecondition("a balance refund cannot exceed the balance")
    adjustment_id = str(uuid.uuid4())
    entry = post_entry(
        session,
        customer_id=customer_id,
        kind=ledger_kind,
        amount_fen=sign * request.amount_fen,
        reference=f"customers/{customer_id}/adjustments/{adjustment_id}",
        occurred_at=now,
        now=now,
        note=request.reason[:500],
    )
    assert entry.id is not None
    row = Adjustment(
        id=adjustment_id,
        customer_id=customer_id,
        kind=kind,
        amount_fen=request.amount_fen,
        reason=request.reason,
        bill=request.bill,
        request_id=request_id,
        request_fingerprint=fingerprint,
        payee_name=request.payee_name,
        payee_bank=request.payee_bank,
        payee_account=request.payee_account,
        ledger_entry_id=entry.id,
        creator=creator,
        create_time=now,
    )
    session.add(row)
    session.flush()
    return row
