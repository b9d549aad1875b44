"""Back-test of this month's forecast over the demo data:
`python -m bench.forecast_backtest [--customers N]`.

For each demo customer and each closed month whose same month last year is inside the
demo's 400 days of daily figures (today, that is last month), it forecasts the month as
the service would have on its 5th, 10th, 15th, 20th and 25th day — from the seeded
daily figures through the day before (gaps and all) and last year's closed month — and
compares with the month's billed energy. The figures are made by the demo seeder's own
functions (`servers.billing.demo`, `demo_daily`), the rows `./dev up` stores, so no
database is needed. It prints the mean absolute percentage error (MAPE) of the method
the service uses and, for comparison, of the month's own pace alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from servers.billing import demo, demo_daily
from servers.billing.forecast import forecast_month
from servers.billing.months import Month

CUTOFF_DAYS = (5, 10, 15, 20, 25)


def customer_days(n: int, first: date, last: date, now: datetime) -> dict[date, int]:
    """Demo customer `n`'s days with a figure, as seeded."""
    rows = demo_daily.daily_rows(
        n, (demo.customer_id(n), demo.meter_id(n)), (first, last), demo.monthly_energy_wh, now
    )
    return {row["day"]: row["energy_wh"] for row in rows}


def backtest_months(now: datetime) -> list[Month]:
    """The closed months whose same month last year has seeded daily figures."""
    first, _ = demo_daily.seed_range(now)
    months, month = [], Month.of(now).previous()
    while month.plus(-12).last_day >= first:
        months.append(month)
        month = month.previous()
    return months


def backtest(customers: int, now: datetime) -> dict[int, tuple[float, float]]:
    """Day of the month → (MAPE of the service's method, MAPE of the pace alone), in %."""
    targets = backtest_months(now)
    seeded_first, _ = demo_daily.seed_range(now)
    errors: dict[int, tuple[list[float], list[float]]] = {d: ([], []) for d in CUTOFF_DAYS}
    for n in range(1, customers + 1):
        days = customer_days(n, seeded_first, targets[0].last_day, now)
        for month in targets:
            actual = demo.monthly_energy_wh(n, month)
            last_year = month.plus(-12)
            last_year_days = {d: wh for d, wh in days.items() if Month.of(d) == last_year}
            for cutoff in CUTOFF_DAYS:
                as_of = month.first_day + timedelta(days=cutoff - 2)
                chosen = forecast_month(
                    month, as_of, days, last_year_days, demo.monthly_energy_wh(n, last_year)
                )
                pace = forecast_month(month, as_of, days, {}, None)
                errors[cutoff][0].append(abs(chosen.forecast_wh - actual) / actual)
                errors[cutoff][1].append(abs(pace.forecast_wh - actual) / actual)
    return {day: (100 * sum(a) / len(a), 100 * sum(b) / len(b)) for day, (a, b) in errors.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forecast_backtest", description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    months = backtest_months(now)
    result = backtest(args.customers, now)
    print(f"forecast back-test: {args.customers} demo customers × {', '.join(map(str, months))}")
    print(f"{'day of month':>12} | {'MAPE same days last year':>24} | {'MAPE pace alone':>15}")
    for day, (chosen, pace) in result.items():
        print(f"{day:>12} | {chosen:>23.1f}% | {pace:>14.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
