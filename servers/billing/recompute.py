"""Recomputing a customer's monthly usage and bills from stored readings and tariffs.

This is the one path from readings to figures: ingest upserts, RecomputeCustomerBilling
and the demo data all go through `recompute_customer`, so what the API shows is always
what the readings and the published tariff versions give.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from servers.billing import bills
from servers.billing.charging import Charge, NoTariffInForce, PricedVersion, charge_month
from servers.billing.config import BillingConfig
from servers.billing.models import (
    Bill,
    BillState,
    Customer,
    Meter,
    MeterReading,
    MonthlyUsage,
)
from servers.billing.months import Month, cst_date
from servers.billing.tariff_catalog import published_versions
from servers.billing.usage import (
    MonthFigures,
    Reading,
    intervals,
    monthly_figures,
    year_to_date,
)

log = logging.getLogger("palmgrid.billing.recompute")

TIME_OF_USE_COLUMNS = {
    "SHARP": "sharp_wh",
    "PEAK": "peak_wh",
    "FLAT": "flat_wh",
    "VALLEY": "valley_wh",
}


@dataclass
class RecomputeResult:
    """Months recomputed (oldest first), bills revised, the fen booked by revisions."""

    months: list[str] = field(default_factory=list)
    issued_bills: list[str] = field(default_factory=list)
    revised_bills: list[str] = field(default_factory=list)
    net_change_fen: int = 0
    late_fees_fen: int = 0


def reading_of(row: MeterReading) -> Reading:
    registers = {
        period: value
        for period, column in TIME_OF_USE_COLUMNS.items()
        if (value := getattr(row, column)) is not None
    }
    return Reading(row.meter_id, row.read_time, row.value_wh, row.quality, registers)


def customer_figures(session: Session, customer_id: str, now: datetime) -> list[MonthFigures]:
    """Monthly figures of every month with readings, through the month of `now`."""
    meters = session.exec(select(Meter).where(Meter.customer_id == customer_id)).all()
    rows = session.exec(
        select(MeterReading)
        .where(MeterReading.customer_id == customer_id)
        .order_by(col(MeterReading.read_time))
    ).all()
    multipliers = {m.id: m.multiplier for m in meters}
    return monthly_figures(intervals([reading_of(r) for r in rows], multipliers), now=now)


def default_start(session: Session, customer_id: str, now: datetime) -> Month:
    """The earliest month with an unpaid bill, or the current month."""
    month = session.exec(
        select(Bill.month)
        .where(Bill.customer_id == customer_id, Bill.state != BillState.PAID.value)
        .order_by(col(Bill.month))
    ).first()
    return Month.parse(month) if month else Month.of(now)


def charge_of(
    customer: Customer,
    versions: list[PricedVersion],
    figures: list[MonthFigures],
    figure: MonthFigures,
) -> tuple[int, Charge | None]:
    """(charge in fen, Charge) of one month's figures; 0 and None without a tariff."""
    try:
        charge = charge_month(
            figure.month,
            versions,
            figure.energy_wh,
            time_of_use_wh=figure.time_of_use_wh,
            year_to_date_wh=year_to_date(figures, figure.month),
            large_household=customer.large_household,
        )
    except NoTariffInForce:
        log.warning(
            "no tariff version in force",
            extra={"customer": customer.id, "month": str(figure.month), "tariff": customer.tariff},
        )
        return 0, None
    return charge.amount_fen, charge


def recompute_customer(
    session: Session,
    customer: Customer,
    *,
    now: datetime,
    config: BillingConfig,
    start_month: Month | None = None,
) -> RecomputeResult:
    """Recompute usage rows from `start_month` (default: see `default_start`) through
    the current month, issue bills for newly complete months, revise changed ones and
    book late fees through today. Runs in the caller's transaction."""
    result = RecomputeResult()
    start = start_month or default_start(session, customer.id, now)
    figures = customer_figures(session, customer.id, now)
    versions = published_versions(session, customer.tariff)
    stored_usage = {
        u.month: u
        for u in session.exec(
            select(MonthlyUsage).where(
                MonthlyUsage.customer_id == customer.id, col(MonthlyUsage.month) >= str(start)
            )
        )
    }
    stored_bills = {
        b.month: b
        for b in session.exec(
            select(Bill).where(Bill.customer_id == customer.id, col(Bill.month) >= str(start))
        )
    }
    for figure in figures:
        if figure.month < start:
            continue
        month = str(figure.month)
        result.months.append(month)
        amount, charge = charge_of(customer, versions, figures, figure)
        _store_usage(session, customer.id, figure, amount, stored_usage.get(month), now)
        if not figure.complete or charge is None:
            continue
        change = bills.apply_month(
            session,
            customer,
            figure,
            charge,
            now=now,
            config=config,
            existing=stored_bills.get(month),
        )
        if change.outcome == "issued":
            result.issued_bills.append(bills.bill_reference(customer.id, month))
        elif change.outcome == "revised":
            result.revised_bills.append(bills.bill_reference(customer.id, month))
            result.net_change_fen += change.booked_fen
    result.late_fees_fen = bills.accrue_late_fees(
        session, customer, cst_date(now), now=now, config=config
    )
    return result


def usage_values(figure: MonthFigures, charge_fen: int) -> dict[str, Any]:
    """The monthly usage columns that follow from a month's figures and charge."""
    return {
        "energy_wh": figure.energy_wh,
        "charge_fen": charge_fen,
        "reading_quality": figure.quality,
        "complete": figure.complete,
        **{
            column: figure.time_of_use_wh.get(period)
            for period, column in TIME_OF_USE_COLUMNS.items()
        },
    }


def _store_usage(
    session: Session,
    customer_id: str,
    figure: MonthFigures,
    charge_fen: int,
    row: MonthlyUsage | None,
    now: datetime,
) -> None:
    values = usage_values(figure, charge_fen)
    if row is None:
        session.add(
            MonthlyUsage(
                customer_id=customer_id, month=str(figure.month), update_time=now, **values
            )
        )
    elif any(getattr(row, key) != value for key, value in values.items()):
        for key, value in values.items():
            setattr(row, key, value)
        row.update_time = now
        session.add(row)
    session.flush()
