"""The daily billing run: book the late fees of overdue postpaid bills through today.

    python -m servers.billing.daily          # settings from PALMGRID_* as the service

The worker's schedule runs it once a day (CST); running it again the same day books
nothing. Each customer is booked in a transaction of its own, and every customer whose
figures changed goes through `customer_data_changed`.
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


def overdue_customers(engine: Engine, now: datetime) -> list[str]:
    """Postpaid customers with a bill past its due date and not yet charged for today."""
    today = cst_date(now)
    with session_scope(engine) as session:
        rows = session.exec(
            select(Bill.customer_id)
            .join(Customer, col(Customer.id) == col(Bill.customer_id))
            .where(
                Bill.state != BillState.PAID.value,
                col(Bill.due_date) < today,
                Customer.billing_mode == BillingMode.POSTPAID.value,
            )
            .distinct()
        ).all()
    return sorted(rows)


def run_daily(engine: Engine, now: datetime, config: BillingConfig) -> DailyResult:
    """Book late fees through `now`'s day for every overdue customer."""
    booked_customers: list[str] = []
    total = 0
    for customer_id in overdue_customers(engine, now):
        with session_scope(engine, write=True) as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                continue
            booked = accrue_late_fees(session, customer, cst_date(now), now=now, config=config)
        if booked:
            booked_customers.append(customer_id)
            total += booked
    customer_data_changed(booked_customers)
    return DailyResult(len(booked_customers), total)


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
