"""Bills: issuing a month's bill from its charge, revising it, late fees and states.

- Issue: a bill per complete month, with one line per tier (and time-of-use period)
  used, due `due_days` after issue (on issue for prepaid customers, whose bills are
  deducted from the balance). Its charge is booked as a BILL ledger entry
  (reference `customers/{id}/bills/{month}`).
- Revision: when a recomputation changes a bill's amount, the bill takes the new figures
  and the next revision number, and the difference is booked as BILL_REVISION
  (reference `customers/{id}/bills/{month}/revisions/{n}`).
- Late fees: each day an overdue postpaid bill stays unpaid costs `late_fee_rate` (1‰ by
  default) of its unpaid amount (payments go to fees first, then the energy charge), booked
  as LATE_FEE entries (reference `…/bills/{month}/lateFees/{through date}`), rounded
  half up to whole fen per accrual.
- State: PAID once the ledger covers it (servers.billing.settlement); otherwise ISSUED
  until its due date passes, then OVERDUE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.engine import Row
from sqlmodel import Session, col, select

from servers.billing.bill_resources import rendering
from servers.billing.charging import Charge, ChargeLine
from servers.billing.config import BillingConfig
from servers.billing.ledger import post_entry
from servers.billing.models import (
    Bill,
    BillingMode,
    BillState,
    Customer,
    LedgerEntryKind,
)
from servers.billing.months import Month, cst_date
from servers.billing.usage import MonthFigures


def bill_reference(customer_id: str, month: Month | str) -> str:
    """The bill's resource name, also its BILL ledger reference."""
    return f"customers/{customer_id}/bills/{month}"


def lines_json(lines: tuple[ChargeLine, ...]) -> str:
    return json.dumps(
        [
            {
                "kind": line.kind,
                "tier": line.tier,
                "period": line.period,
                "energy_wh": line.energy_wh,
                "unit_price": format(line.unit_price, "f"),
                "amount_fen": line.amount_fen,
                "version": line.version,
            }
            for line in lines
        ],
        separators=(",", ":"),
    )


def effective_state(bill: Bill | Row[Any], today: date) -> str:
    """The state to show on `today` (CST): an unpaid bill past its due date is OVERDUE
    even before the day's late fee is booked."""
    if bill.state == BillState.ISSUED.value and today > bill.due_date:
        return BillState.OVERDUE.value
    return bill.state


@dataclass(frozen=True)
class BillChange:
    """What applying a month's charge did: "issued", "revised", "updated" or "same",
    and the ledger amount booked (fen, negative for a charge)."""

    outcome: str
    booked_fen: int


def bill_values(figures: MonthFigures, charge: Charge) -> dict[str, Any]:
    """The bill columns that follow from a month's figures and charge."""
    opening, closing = figures.opening, figures.closing
    return {
        "period_start_date": cst_date(opening.read_time) if opening else figures.month.first_day,
        # A closing reading at midnight closes the day before it.
        "period_end_date": (
            cst_date(closing.read_time - timedelta(seconds=1))
            if closing
            else figures.month.last_day
        ),
        "energy_wh": figures.energy_wh,
        "amount_fen": charge.amount_fen,
        "lines": lines_json(charge.lines),
        "tariff_version": charge.tariff_version,
        "opening_reading_wh": opening.value_wh if opening else 0,
        "closing_reading_wh": closing.value_wh if closing else 0,
        "reading_quality": figures.quality,
    }


def due_date_of(customer: Customer, issue_day: date, config: BillingConfig) -> date:
    """Postpaid bills are due `due_days` after issue; prepaid ones are deducted on issue."""
    if customer.billing_mode == BillingMode.PREPAID.value:
        return issue_day
    return issue_day + timedelta(days=config.due_days)


def apply_month(
    session: Session,
    customer: Customer,
    figures: MonthFigures,
    charge: Charge,
    *,
    now: datetime,
    config: BillingConfig,
    existing: Bill | None,
) -> BillChange:
    """Issue the month's bill, or bring an issued one up to date with `charge`."""
    values = bill_values(figures, charge)
    reference = bill_reference(customer.id, figures.month)
    if existing is None:
        bill = Bill(
            customer_id=customer.id,
            month=str(figures.month),
            issue_time=now,
            due_date=due_date_of(customer, cst_date(now), config),
            **values,
        )
        bill.resource = rendering(bill)
        session.add(bill)
        session.flush()
        post_entry(
            session,
            customer_id=customer.id,
            kind=LedgerEntryKind.BILL,
            amount_fen=-charge.amount_fen,
            reference=reference,
            occurred_at=now,
            now=now,
            note=f"{figures.month} 电费",
        )
        return BillChange("issued", -charge.amount_fen)
    if all(getattr(existing, key) == value for key, value in values.items()):
        return BillChange("same", 0)
    difference = charge.amount_fen - existing.amount_fen
    for key, value in values.items():
        setattr(existing, key, value)
    if not difference:
        existing.resource = rendering(existing)
        session.add(existing)
        session.flush()
        return BillChange("updated", 0)
    existing.revision += 1
    owed = existing.amount_fen + existing.late_fee_fen
    if existing.state == BillState.PAID.value and difference > 0:
        # The bill now asks for more than was paid: open again for the difference.
        existing.state = BillState.ISSUED.value
        existing.paid_time = None
    existing.paid_fen = min(existing.paid_fen, owed)
    existing.resource = rendering(existing)
    session.add(existing)
    session.flush()
    post_entry(
        session,
        customer_id=customer.id,
        kind=LedgerEntryKind.BILL_REVISION,
        amount_fen=-difference,
        reference=f"{reference}/revisions/{existing.revision}",
        occurred_at=now,
        now=now,
        note=f"{figures.month} 电费更正（第 {existing.revision} 次）",
    )
    return BillChange("revised", -difference)


def accrue_late_fees(
    session: Session, customer: Customer, today: date, *, now: datetime, config: BillingConfig
) -> int:
    """Book the late fees of the customer's overdue postpaid bills through `today`
    (CST); returns the fen booked. Running it again on the same day books nothing."""
    if customer.billing_mode != BillingMode.POSTPAID.value or config.late_fee_rate <= 0:
        return 0
    overdue = session.exec(
        select(Bill)
        .where(
            Bill.customer_id == customer.id,
            Bill.state != BillState.PAID.value,
            col(Bill.due_date) < today,
        )
        .order_by(col(Bill.month))
    ).all()
    booked = 0
    for bill in overdue:
        since = max(bill.due_date, bill.late_fee_through or bill.due_date)
        days = (today - since).days
        if days <= 0:
            continue
        unpaid = bill.amount_fen + bill.late_fee_fen - bill.paid_fen
        principal = min(bill.amount_fen, unpaid)
        exact = Decimal(principal) * config.late_fee_rate * days
        fee = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        bill.late_fee_through = today
        bill.state = BillState.OVERDUE.value
        if fee > 0:
            bill.late_fee_fen += fee
        session.add(bill)
        session.flush()
        if fee > 0:
            post_entry(
                session,
                customer_id=customer.id,
                kind=LedgerEntryKind.LATE_FEE,
                amount_fen=-fee,
                reference=f"{bill_reference(customer.id, bill.month)}/lateFees/{today.isoformat()}",
                occurred_at=now,
                now=now,
                note=f"{bill.month} 电费违约金（{days} 天）",
            )
            booked += fee
    return booked
