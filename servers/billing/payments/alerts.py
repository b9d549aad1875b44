"""Balance alerts for prepaid customers, and payment results, queued in the outbox.

Call `after_ledger_entry` in the transaction that booked an entry: it compares the net
balance before and after the entry and queues

- `billing.arrears` when a prepaid customer's balance turns negative;
- `billing.low_balance` when it falls below the threshold (default 30 yuan) without
  turning negative.

An alert fires on the crossing only, so a customer already below the threshold is not
alerted again by every deduction. The event key is the ledger entry, so a retried
transaction queues one alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from servers.billing.models import BillingMode, Customer, LedgerEntry
from servers.billing.payments import outbox
from servers.billing.payments.statement import yuan

LOW_BALANCE = "billing.low_balance"
ARREARS = "billing.arrears"
PAYMENT_SUCCEEDED = "billing.payment_succeeded"


def after_ledger_entry(
    session: Session,
    *,
    customer: Customer,
    entry: LedgerEntry,
    threshold_fen: int,
    now: datetime,
) -> str | None:
    """Queue the alert `entry` calls for, if any; returns its template."""
    if customer.billing_mode != BillingMode.PREPAID.value:
        return None
    after = entry.net_after_fen
    before = after - entry.amount_fen
    if before >= 0 > after:
        template = ARREARS
        parameters = {"arrears": yuan(-after)}
    elif before >= threshold_fen > after >= 0:
        template = LOW_BALANCE
        parameters = {"balance": yuan(after), "threshold": yuan(threshold_fen)}
    else:
        return None
    outbox.enqueue(
        session,
        event=f"{template}/{entry.id}",
        customer_id=customer.id,
        template=template,
        parameters=parameters,
        target=f"customers/{customer.id}/balance",
        now=now,
    )
    return template


def payment_succeeded(
    session: Session, *, customer_id: str, payment_name: str, amount_fen: int, now: datetime
) -> None:
    """Queue the 'payment received' message of a succeeded payment."""
    outbox.enqueue(
        session,
        event=f"{PAYMENT_SUCCEEDED}/{payment_name}",
        customer_id=customer_id,
        template=PAYMENT_SUCCEEDED,
        parameters={"amount": yuan(amount_fen)},
        target=payment_name,
        now=now,
    )
