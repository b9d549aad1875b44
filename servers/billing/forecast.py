"""This month's forecast from the household's own history (UsageForecast).

Method (docs/insights.md says why): the same month last year, scaled by how this
month's days so far compare with the same days last year —
`last year's month × Σ this year's days / Σ the same days last year`, over the days
that have a figure in both years (a gap in either is left out, never filled). Without
a usable last year (no closed month a year ago, or none of its same days), the month's
own pace: `Σ days with a figure × days in the month / their count`. The forecast is
never below what was used so far. Daily figures are used through yesterday (CST).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from palmgrid.billing.v1 import insights_pb2
from servers.billing.analysis import Pace, tier_version
from servers.billing.charging import charge_month, tier_position
from servers.billing.estimate import year_before_wh
from servers.billing.models import Customer, DailyUsage, MonthlyUsage
from servers.billing.months import Month, cst_date, start_of_day
from servers.billing.tariff_catalog import published_versions

_DAILY: sa.Table = DailyUsage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Forecast:
    """A month's forecast: how it was made and from what."""

    method: str  # "SAME_DAYS_LAST_YEAR", "PACE" or "NONE"
    energy_so_far_wh: int
    days_with_figures: int
    forecast_wh: int
    reference_month: Month | None = None


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _year_before(day: date) -> date | None:
    """The same day a year before; None for 29 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return None


def forecast_month(
    month: Month,
    as_of: date,
    days_wh: Mapping[date, int],
    last_year_days_wh: Mapping[date, int],
    last_year_month_wh: int | None,
) -> Forecast:
    """The forecast of `month` from its days through `as_of` (`days_wh`: the days with a
    figure, in Wh), the same month last year's days with a figure and its closed
    month's energy (None when there is none)."""
    figures = {d: wh for d, wh in days_wh.items() if month.first_day <= d <= as_of}
    so_far = sum(figures.values())
    if not figures:
        return Forecast("NONE", 0, 0, 0)
    # This year's days with their same day last year, where both have a figure.
    pairs = {
        d: before
        for d in figures
        if (before := _year_before(d)) is not None and before in last_year_days_wh
    }
    last_year_common = sum(last_year_days_wh[before] for before in pairs.values())
    if last_year_month_wh is not None and last_year_common > 0:
        this_common = sum(figures[d] for d in pairs)
        expected = _half_up(last_year_month_wh * this_common, last_year_common)
        return Forecast(
            "SAME_DAYS_LAST_YEAR", so_far, len(figures), max(expected, so_far), month.plus(-12)
        )
    expected = _half_up(so_far * month.days, len(figures))
    return Forecast("PACE", so_far, len(figures), expected)


def daily_figures(session: Session, customer_id: str, first: date, last: date) -> dict[date, int]:
    """The customer's days from `first` through `last` whose every meter has a figure,
    with their energy in Wh (a day with a missing meter is left out)."""
    rows = session.connection().execute(
        sa.select(_DAILY.c.day, _DAILY.c.energy_wh).where(
            _DAILY.c.customer_id == customer_id, _DAILY.c.day.between(first, last)
        )
    )
    totals: dict[date, int] = defaultdict(int)
    incomplete: set[date] = set()
    for day, energy in rows:
        if energy is None:
            incomplete.add(day)
        else:
            totals[day] += energy
    return {day: wh for day, wh in totals.items() if day not in incomplete}


def household_forecast(session: Session, customer: Customer, now: datetime) -> Forecast:
    """The current month's forecast for `customer` at `now`."""
    today = cst_date(now)
    month = Month.of(today)
    reference = month.plus(-12)
    last_year_row = session.get(MonthlyUsage, (customer.id, str(reference)))
    last_year_wh = last_year_row.energy_wh if last_year_row and last_year_row.complete else None
    return forecast_month(
        month,
        today - timedelta(days=1),
        daily_figures(session, customer.id, month.first_day, today - timedelta(days=1)),
        daily_figures(session, customer.id, reference.first_day, reference.last_day),
        last_year_wh,
    )


def usage_forecast(
    session: Session, customer: Customer, now: datetime
) -> insights_pb2.UsageForecast:
    """The UsageForecast resource: the forecast with its charge under the tariff in
    force today, its tier and the day the next tier starts at its pace."""
    today = cst_date(now)
    month = Month.of(today)
    forecast = household_forecast(session, customer, now)
    versions = published_versions(session, customer.tariff)
    version = tier_version(versions, customer, today)
    year_before = year_before_wh(session, customer.id, month)
    charge = charge_month(
        month,
        versions,
        forecast.forecast_wh,
        year_to_date_wh=year_before,
        large_household=customer.large_household,
    )
    annual = version.schedule.tier_period == "ANNUAL"
    tiers = version.schedule.tiers_for(month.month, large_household=customer.large_household)
    carried = year_before if annual else 0
    left_days = month.days - forecast.days_with_figures
    rest = forecast.forecast_wh - forecast.energy_so_far_wh
    remaining_daily = _half_up(rest, left_days) if left_days > 0 else 0
    result = insights_pb2.UsageForecast(
        name=f"customers/{customer.id}/usageForecast",
        month=str(month),
        method=insights_pb2.ForecastMethod.Value(f"FORECAST_METHOD_{forecast.method}"),
        as_of_date=(today - timedelta(days=1)).isoformat(),
        energy_so_far_wh=forecast.energy_so_far_wh,
        days_with_figures=forecast.days_with_figures,
        forecast_energy_wh=forecast.forecast_wh,
        forecast_charge_fen=charge.amount_fen,
        tariff_version=version.name,
        remaining_daily_wh=remaining_daily,
        forecast_tier=tier_position(tiers, max(forecast.forecast_wh + carried - 1, 0)).tier.tier,
        reference_month=str(forecast.reference_month) if forecast.reference_month else "",
    )
    now_position = tier_position(tiers, forecast.energy_so_far_wh + carried)
    if now_position.next_tier is not None:
        pace = Pace(remaining_daily, 86_400, start_of_day(today))
        period_end = Month(month.year + 1, 1).start if annual else month.end
        day = pace.reached(now_position.remaining_wh, period_end)
        result.next_tier_date = day.isoformat() if day else ""
    return result
