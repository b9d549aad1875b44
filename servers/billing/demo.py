"""The dev profile's demo data (CONTRACT.md, "The dev profile's demo data").

Customers 3100000001 … 3100000000+N (1,000 by default): customer N is on area
`A{(N-1) mod 10 + 1:02d}`, its registered phone ends in N's last four digits (which is
what binding it takes as verification), it is on `residential-tiered` and has 24
complete months of readings, usage and bills ending last month, a reading earlier
today for the current month's estimate, 400 days of daily usage through yesterday
(`demo_daily`, with gaps and estimated days), and a positive balance: an opening credit,
each bill booked and paid, every figure computed by the same code paths as live data
(usage derivation, tariff engine, bill values), so recomputing changes nothing.

Deterministic: every value follows from N and the month. Seeded in one transaction with
bulk inserts when the demo customers are absent. Data seeded in an earlier month is
brought up to last month by `top_up` (run in the background at start): the new months'
readings go through the live path (recomputation issues the bills) and the demo
customers pay them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from servers.billing import demo_daily
from servers.billing.bill_resources import rendering
from servers.billing.bills import bill_reference, bill_values, due_date_of
from servers.billing.bulk import bulk_insert_dicts
from servers.billing.changes import customer_data_changed
from servers.billing.charging import PricedVersion, charge_month
from servers.billing.config import BillingConfig
from servers.billing.ledger import post_entry
from servers.billing.models import (
    BalanceRow,
    Bill,
    BillingMode,
    BillState,
    Customer,
    DailyUsage,
    LedgerEntry,
    LedgerEntryKind,
    Meter,
    MeterReading,
    MonthlyUsage,
)
from servers.billing.months import Month, months_between
from servers.billing.recompute import recompute_customer, usage_values
from servers.billing.tariff_catalog import published_versions
from servers.billing.usage import Reading, intervals, monthly_figures, year_to_date
from servers.runtime import CHINA_STANDARD_TIME, session_scope

FIRST_ID = 3_100_000_000
TARIFF = "residential-tiered"
MONTHS = 24
KWH = 1000
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["建国", "秀英", "志强", "丽华", "海燕", "文斌", "桂兰", "明", "婷", "国平", "春梅", "伟"]
_STREETS = [
    "南宁西路",
    "麒麟南路",
    "寥廓北路",
    "紫云路",
    "文昌街",
    "珠江源大道",
    "交通路",
    "翠峰路",
]


def customer_id(n: int) -> str:
    """The 10-digit number of demo customer `n` (1-based)."""
    return str(FIRST_ID + n)


def meter_id(n: int) -> str:
    """The one meter of demo customer `n`."""
    return f"E{n:08d}"


def area_code(n: int) -> str:
    return f"A{(n - 1) % 10 + 1:02d}"


def supply_office(n: int) -> str:
    """Areas A01–A05 belong to the 麒麟 office, A06–A10 to the 沾益 office."""
    return "QJ-QL" if (n - 1) % 10 < 5 else "QJ-ZY"


def phone(n: int) -> str:
    """An 11-digit mobile number ending in n's last four digits."""
    return f"13{n * 7 % 10}{n * 7919 % 10000:04d}{n % 10000:04d}"


def _unit(n: int, salt: str) -> float:
    """A deterministic number in [0, 1) for `n` and `salt` (not money: usage shape)."""
    digest = hashlib.blake2b(f"{n}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def monthly_energy_wh(n: int, month: Month) -> int:
    """Demo usage: a household base load, more in summer and winter, ±20 % a month."""
    base = 90 + int(_unit(n, "base") * 220)  # kWh
    season = {1: 1.25, 2: 1.2, 7: 1.45, 8: 1.5, 12: 1.3}.get(month.month, 1.0)
    noise = 0.8 + 0.4 * _unit(n, str(month))
    return int(base * season * noise * KWH) + int(_unit(n, f"wh{month}") * KWH)


@dataclass
class DemoRows:
    """Rows of every table, as dicts for bulk inserts."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    meters: list[dict[str, Any]] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[sa.Table, list[dict[str, Any]]]]:
        for model, rows in (
            (Customer, self.customers),
            (Meter, self.meters),
            (MeterReading, self.readings),
            (MonthlyUsage, self.usage),
            (DailyUsage, self.daily),
            (Bill, self.bills),
            (LedgerEntry, self.ledger),
            (BalanceRow, self.balances),
        ):
            yield model.__table__, rows  # type: ignore[union-attr]


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), CHINA_STANDARD_TIME)


def _so_far_wh(n: int, month: Month, moment: datetime) -> int:
    """The part of the month's demo energy used by `moment`, in proportion to time."""
    elapsed = int((moment - month.start).total_seconds())
    whole = int((month.end - month.start).total_seconds())
    return monthly_energy_wh(n, month) * elapsed // whole


def _reading_row(cid: str, reading: Reading) -> MeterReading:
    return MeterReading(
        customer_id=cid,
        meter_id=reading.meter_id,
        id=reading.read_time.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d-%H%M"),
        read_time=reading.read_time,
        value_wh=reading.value_wh,
        quality="ACTUAL",
        source="REMOTE",
        create_time=reading.read_time,
    )


def customer_rows(
    n: int, now: datetime, versions: list[PricedVersion], config: BillingConfig, rows: DemoRows
) -> None:
    """Append demo customer `n`'s rows to `rows`."""
    cid = customer_id(n)
    created = now - timedelta(days=MONTHS * 31 + 30)
    mode = BillingMode.PREPAID if n % 5 == 0 else BillingMode.POSTPAID
    customer = Customer(
        id=cid,
        holder_name=_SURNAMES[n % len(_SURNAMES)] + _GIVEN[n * 7 % len(_GIVEN)],
        registered_phone=phone(n),
        address=f"曲靖市麒麟区{_STREETS[n % len(_STREETS)]}{n % 300 + 1}号",
        supply_office=supply_office(n),
        area_code=area_code(n),
        tariff=TARIFF,
        billing_mode=mode.value,
        open_date=date(2012 + n % 10, n % 12 + 1, n % 28 + 1),
        source_update_time=created,
        create_time=created,
        update_time=created,
    )
    rows.customers.append(customer.model_dump())
    meter = meter_id(n)
    rows.meters.append(
        Meter(
            customer_id=cid, id=meter, remote_read=True, install_date=customer.open_date
        ).model_dump()
    )
    current = Month.of(now)
    first = current.plus(-MONTHS)
    register = int(_unit(n, "register") * 20_000) * KWH
    readings: list[Reading] = []
    for month in [first.plus(k) for k in range(MONTHS + 1)]:
        readings.append(Reading(meter, month.start, register))
        register += monthly_energy_wh(n, month)
    # Today's reading (an hour ago) gives the current month its figures so far.
    latest = now - timedelta(hours=1)
    if latest > current.start:
        so_far = _so_far_wh(n, current, latest)
        readings.append(Reading(meter, latest, readings[-1].value_wh + so_far))
    for reading in readings:
        rows.readings.append(_reading_row(cid, reading).model_dump())
    days = demo_daily.seed_range(now)
    rows.daily.extend(demo_daily.daily_rows(n, (cid, meter), days, monthly_energy_wh, now))
    figures = monthly_figures(intervals(readings, {}), now=now)
    opening_credit = 50_000 + n % 50 * 1_000
    entries: list[tuple[datetime, LedgerEntryKind, int, str, str]] = [
        (
            first.start - timedelta(days=1),
            LedgerEntryKind.ADJUSTMENT,
            opening_credit,
            f"demo/openingCredits/{cid}",
            "开户预存",
        ),
    ]
    for figure in figures:
        charge = charge_month(
            figure.month,
            versions,
            figure.energy_wh,
            year_to_date_wh=year_to_date(figures, figure.month),
        )
        usage = usage_values(figure, charge.amount_fen)
        rows.usage.append(
            {"customer_id": cid, "month": str(figure.month), "update_time": now, **usage}
        )
        if not figure.complete:
            continue
        issued = min(_at(figure.month.next().first_day, 9), now - timedelta(minutes=5))
        reference = bill_reference(cid, figure.month)
        bill = {
            "customer_id": cid,
            "month": str(figure.month),
            **bill_values(figure, charge),
            # The balance always covers the bill, so it is settled on issue.
            "state": BillState.PAID.value,
            "issue_time": issued,
            "due_date": due_date_of(
                customer, issued.astimezone(CHINA_STANDARD_TIME).date(), config
            ),
            "late_fee_fen": 0,
            "late_fee_through": None,
            "paid_fen": charge.amount_fen,
            "paid_time": issued,
            "revision": 0,
        }
        bill["resource"] = rendering(SimpleNamespace(**bill))
        rows.bills.append(bill)
        entries.append(
            (issued, LedgerEntryKind.BILL, -charge.amount_fen, reference, f"{figure.month} 电费")
        )
        paid = issued + timedelta(days=n % 10, hours=11)
        if paid < now:
            entries.append(
                (
                    paid,
                    LedgerEntryKind.PAYMENT,
                    charge.amount_fen,
                    f"demo/payments/{cid}/{figure.month}",
                    "营业厅缴费",
                )
            )
    net = 0
    for occurred, kind, amount, reference, note in sorted(entries, key=lambda e: e[0]):
        net += amount
        rows.ledger.append(
            {
                "customer_id": cid,
                "kind": kind.value,
                "amount_fen": amount,
                "net_after_fen": net,
                "reference": reference,
                "note": note,
                "occurred_at": occurred,
                "create_time": occurred,
            }
        )
    rows.balances.append({"customer_id": cid, "net_fen": net, "update_time": now})


def demo_present(session: Session, customers: int) -> bool:
    """Whether any demo customer is already stored."""
    found = session.exec(
        select(func.count()).where(
            col(Customer.id) >= customer_id(1), col(Customer.id) <= customer_id(customers)
        )
    ).one()
    return bool(found)


def seed(
    engine: Engine,
    now: datetime,
    *,
    customers: int = 1000,
    config: BillingConfig | None = None,
) -> int:
    """Seed the demo customers unless present; returns how many were added."""
    config = config or BillingConfig()
    with session_scope(engine, write=True) as session:
        if demo_present(session, customers):
            return 0
        versions = published_versions(session, TARIFF)
        rows = DemoRows()
        for n in range(1, customers + 1):
            customer_rows(n, now, versions, config, rows)
        connection = session.connection()
        for table, values in rows.tables():
            bulk_insert_dicts(connection, table, values)
    return customers


def top_up(
    engine: Engine,
    now: datetime,
    *,
    customers: int = 1000,
    config: BillingConfig | None = None,
) -> int:
    """Bring demo data seeded in an earlier month up to last month: the readings of the
    months since, their bills (through the live recomputation path) and the demo
    customers' payments of them, and a fresh reading for the current month. Returns
    how many months were added."""
    config = config or BillingConfig()
    demo_daily.top_up_daily(
        engine,
        now,
        [(n, customer_id(n), meter_id(n)) for n in range(1, customers + 1)],
        monthly_energy_wh,
    )
    target = Month.of(now).previous()
    with session_scope(engine) as session:
        last = session.exec(
            select(func.max(Bill.month)).where(Bill.customer_id == customer_id(1))
        ).one()
    if last is None or Month.parse(last) >= target:
        return 0
    first_new = Month.parse(last).next()
    months = months_between(first_new, target)
    changed: list[str] = []
    for n in range(1, customers + 1):
        if _top_up_customer(engine, n, months, now, config):
            changed.append(customer_id(n))
    customer_data_changed(changed)
    return len(months)


def _top_up_customer(
    engine: Engine, n: int, months: list[Month], now: datetime, config: BillingConfig
) -> bool:
    cid = customer_id(n)
    with session_scope(engine, write=True) as session:
        customer = session.get(Customer, cid)
        opening = session.exec(
            select(MeterReading).where(
                MeterReading.customer_id == cid, MeterReading.read_time == months[0].start
            )
        ).first()
        if customer is None or opening is None:
            return False
        register = opening.value_wh
        for month in months:
            register += monthly_energy_wh(n, month)
            session.add(_reading_row(cid, Reading(opening.meter_id, month.end, register)))
        current = Month.of(now)
        latest = now - timedelta(hours=1)
        if latest > current.start:
            so_far = _so_far_wh(n, current, latest)
            session.add(_reading_row(cid, Reading(opening.meter_id, latest, register + so_far)))
        session.flush()
        recompute_customer(session, customer, now=now, config=config, start_month=months[0])
        for bill in session.exec(
            select(Bill).where(Bill.customer_id == cid, col(Bill.month) >= str(months[0]))
        ).all():
            post_entry(
                session,
                customer_id=cid,
                kind=LedgerEntryKind.PAYMENT,
                amount_fen=bill.amount_fen,
                reference=f"demo/payments/{cid}/{bill.month}",
                occurred_at=now,
                now=now,
                note="营业厅缴费",
            )
    return True
