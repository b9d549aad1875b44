"""The daily billing run: book the late fees of overdue postpaid bills through today.

    python -m servers.billing.daily          # settings from PALMGRID_* as the service

The worker runs it once a day (CST) through BillingInternalService.AccrueLateFees, a
page of customers per call (`run_daily(after=, limit=)`); running it again the same day
books nothing. Each customer is booked in a transaction of its own, and every customer
whose figures changed goes through `customer_data_changed`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from servers.billing.bills import accrue_late_fees
from servers.billing.changes import customer_data_changed
from servers.billing.config import BillingConfig
from servers.billing.models import Bill, BillingMode, BillState, Customer
from servers.billing.months import cst_date
from servers.runtime import SYSTEM_CLOCK, create_engine, load_settings, session_scope

log = logging.getLogger("palmgrid.billing.daily")


@dataclass(frozen=True)
class DailyResult:
    customers: int
    late_fees_fen: int
    # The last customer looked at (by number), for the next page; "" when none.
    last_customer: str = ""


def overdue_customers(
    engine: Engine, now: datetime, *, after: str = "", limit: int | None = None
) -> list[str]:
    """Postpaid customers with a bill past its due date and not yet charged for today,
    by number: those after `after`, at most `limit` of them."""
    today = cst_date(now)
    query = (
        select(Bill.customer_id)
        .join(Customer, col(Customer.id) == col(Bill.customer_id))
        .where(
            Bill.state != BillState.PAID.value,
            col(Bill.due_date) < today,
            Customer.billing_mode == BillingMode.POSTPAID.value,
            col(Bill.customer_id) > after,
        )
        .distinct()
        .order_by(col(Bill.customer_id))
    )
    if limit is not None:
        query = query.limit(limit)
    with session_scope(engine) as session:
        return list(session.exec(query).all())


def run_daily(
    engine: Engine,
    now: datetime,
    config: BillingConfig,
    *,
    after: str = "",
    limit: int | None = None,
) -> DailyResult:
    """Book late fees through `now`'s day for the overdue customers after `after` (by
    number, at most `limit`; default: all of them)."""
    booked_customers: list[str] = []
    total = 0
    customers = overdue_customers(engine, now, after=after, limit=limit)
    for customer_id in customers:
        with session_scope(engine, write=True) as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                continue
            booked = accrue_late_fees(session, customer, cst_date(now), now=now, config=config)
        if booked:
            booked_customers.append(customer_id)
            total += booked
    customer_data_changed(booked_customers)
    return DailyResult(len(booked_customers), total, customers[-1] if customers else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.billing.daily", description=__doc__)
    parser.parse_args(argv)
    settings = load_settings()
    engine = create_engine(settings.database_url_for("billing"))
    try:
        result = run_daily(engine, SYSTEM_CLOCK.now(), BillingConfig.load())
    finally:
        engine.dispose()
    print(f"late fees: {result.late_fees_fen} fen booked for {result.customers} customers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
