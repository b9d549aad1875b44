"""The demo customers' daily usage: 400 days through yesterday (CST), per meter and day.

Each complete month's days add up exactly to the month's demo energy
(`demo.monthly_energy_wh`, which the monthly readings and bills come from), shared by
a deterministic weight per day with weekends a little higher. Like real daily data it
has holes: about one day in a hundred never arrived (no row: a gap) and about one in a
hundred was estimated by the metering system; customer N also misses each day whose
ordinal is N·37 mod 400 (one day in any 400), so every demo customer shows a gap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from servers.billing.bulk import bulk_insert_dicts
from servers.billing.changes import customer_data_changed
from servers.billing.models import DailyUsage, ReadingQuality
from servers.billing.months import Month, cst_date
from servers.runtime import session_scope

DAYS = 400
_TABLE: sa.Table = DailyUsage.__table__  # type: ignore[attr-defined]


def _bytes(n: int, day: date) -> bytes:
    return hashlib.blake2b(f"{n}:{day.isoformat()}".encode(), digest_size=4).digest()


def _weight(n: int, day: date) -> int:
    weekend = 150 if day.weekday() >= 5 else 0
    return 700 + int.from_bytes(_bytes(n, day)[:2], "big") * 600 // 65536 + weekend


def month_days_wh(n: int, month: Month, monthly_wh: int) -> dict[date, int]:
    """The month's energy shared over its days by weight; the shares add up exactly."""
    days = [month.first_day + timedelta(days=k) for k in range(month.days)]
    weights = [_weight(n, day) for day in days]
    total = sum(weights)
    shares = [monthly_wh * w // total for w in weights]
    shares[-1] += monthly_wh - sum(shares)
    return dict(zip(days, shares, strict=True))


def _quality(n: int, day: date) -> str | None:
    """ACTUAL, ESTIMATED, or None for a day that never arrived."""
    if day.toordinal() % DAYS == n * 37 % DAYS:
        return None
    roll = _bytes(n, day)[2]
    if roll < 3:  # ~1.2 %
        return None
    if roll < 6:
        return ReadingQuality.ESTIMATED.value
    return ReadingQuality.ACTUAL.value


MonthlyEnergy = Callable[[int, Month], int]


def daily_rows(
    n: int,
    ids: tuple[str, str],
    days: tuple[date, date],
    monthly_wh: MonthlyEnergy,
    now: datetime,
) -> Iterator[dict[str, Any]]:
    """Demo customer `n`'s rows (ids: customer and meter) for the days `days[0]` …
    `days[1]`, from its monthly energy `monthly_wh(n, month)`."""
    first, last = days
    customer_id, meter_id = ids
    month = Month.of(first)
    while month.first_day <= last:
        for day, energy in month_days_wh(n, month, monthly_wh(n, month)).items():
            if not first <= day <= last:
                continue
            quality = _quality(n, day)
            if quality is None:
                continue
            yield {
                "customer_id": customer_id,
                "day": day,
                "meter_id": meter_id,
                "energy_wh": energy,
                "quality": quality,
                "update_time": now,
            }
        month = month.next()


def seed_range(now: datetime) -> tuple[date, date]:
    """The 400 days through yesterday (CST)."""
    yesterday = cst_date(now) - timedelta(days=1)
    return yesterday - timedelta(days=DAYS - 1), yesterday


def top_up_daily(
    engine: Engine,
    now: datetime,
    customers: Sequence[tuple[int, str, str]],
    monthly_wh: MonthlyEnergy,
) -> int:
    """Add the days after the last stored one through yesterday for each demo
    customer (n, customer id, meter id); returns how many days were added."""
    first, last = seed_range(now)
    with session_scope(engine) as session:
        stored = session.connection().execute(sa.select(sa.func.max(_TABLE.c.day))).scalar()
    start = max(first, stored + timedelta(days=1)) if stored else first
    if start > last:
        return 0
    with session_scope(engine, write=True) as session:
        connection = session.connection()
        for n, customer_id, meter_id in customers:
            rows = list(daily_rows(n, (customer_id, meter_id), (start, last), monthly_wh, now))
            bulk_insert_dicts(connection, _TABLE, rows)
    customer_data_changed(customer_id for _, customer_id, _ in customers)
    return (last - start).days + 1
