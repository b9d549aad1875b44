"""Which bills the money on the account has paid.

Payments are not earmarked for bills: the account's net balance (the ledger sum) says
how much is owed in total, and that debt is assigned to the newest open bills. Older
bills are therefore paid first, and a bill whose share of the debt reaches zero becomes
PAID. `post_entry` runs this after every entry, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from servers.billing.models import Bill, BillState


def settle_bills(session: Session, customer_id: str, net_fen: int, at: datetime) -> None:
    """Spread the arrears (max(−net_fen, 0), fen) over the customer's open bills, newest
    first; update each bill's `paid_fen` and mark fully covered bills PAID at `at`."""
    query = (
        select(Bill)
        .where(Bill.customer_id == customer_id, Bill.state != BillState.PAID.value)
        .order_by(col(Bill.month).desc())
    )
    remaining = max(-net_fen, 0)
    for bill in session.exec(query):
        owed = bill.amount_fen + bill.late_fee_fen
        outstanding = min(owed, remaining)
        remaining -= outstanding
        paid = owed - outstanding
        if paid != bill.paid_fen:
            bill.paid_fen = paid
        if outstanding == 0:
            bill.state = BillState.PAID.value
            bill.paid_time = at
        session.add(bill)
    session.flush()
