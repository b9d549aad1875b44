"""One month of a customer explained (UsageAnalysis): energy, charge and average price
from the bill's lines, the month's place in the tiers with the pace towards the next,
and comparisons with the same month last year and the three months before.

Every figure is computed in integers and rounded once, half up (away from zero for a
fall): the average price is charge × 1000 / energy fen per kWh to 0.01 fen, the
percent changes to 0.1, averages of months to the Wh and the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, func, select

from palmgrid.billing.v1 import insights_pb2, resources_pb2, tariff_pb2
from servers.billing.bill_resources import lines_of
from servers.billing.charging import NoTariffInForce, PricedVersion, tier_position, version_on
from servers.billing.estimate import tier_fields
from servers.billing.models import Bill, Customer, MeterReading, MonthlyUsage
from servers.billing.months import Month, cst_date
from servers.billing.tariff_catalog import published_versions
from servers.runtime import FailedPrecondition, NotFound
from servers.runtime.protoconv import decimal_message

DAY_SECONDS = 86_400


def rounded_ratio(numerator: int, denominator: int, places: int) -> Decimal:
    """numerator / denominator to `places` decimals, exactly, half away from zero."""
    negative = (numerator < 0) != (denominator < 0)
    scaled = abs(numerator) * 10**places
    whole = (2 * scaled + abs(denominator)) // (2 * abs(denominator))
    return Decimal(-whole if negative else whole).scaleb(-places)


def average_price(charge_fen: int, energy_wh: int) -> Decimal | None:
    """Fen per kWh to 0.01 fen; None without energy."""
    return rounded_ratio(charge_fen * 1000, energy_wh, 2) if energy_wh else None


def change_percent(this: int, that: int) -> Decimal | None:
    """(this − that) / that × 100 to 0.1; None when `that` is 0."""
    return rounded_ratio((this - that) * 100, that, 1) if that else None


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Pace:
    """Energy used over the time it covers: `energy_wh` in `seconds`, up to `until`."""

    energy_wh: int
    seconds: int
    until: datetime

    @property
    def daily_wh(self) -> int:
        return _half_up(self.energy_wh * DAY_SECONDS, self.seconds) if self.seconds > 0 else 0

    def reached(self, more_wh: int, before: datetime) -> date | None:
        """The day (CST) `more_wh` more are used at this pace; None when that is not
        before `before` or there is no pace."""
        if self.energy_wh <= 0 or self.seconds <= 0:
            return None
        moment = self.until + timedelta(seconds=more_wh * self.seconds / self.energy_wh)
        return cst_date(moment) if moment < before else None


def month_pace(session: Session, customer_id: str, month: Month, energy_wh: int) -> Pace:
    """The pace of `month` so far: its energy over the time from its start to the
    latest reading in it."""
    latest = session.exec(
        select(func.max(MeterReading.read_time)).where(
            MeterReading.customer_id == customer_id,
            MeterReading.read_time >= month.start,
            MeterReading.read_time <= month.end,
        )
    ).one()
    if latest is None:
        return Pace(0, 0, month.start)
    return Pace(energy_wh, int((latest - month.start).total_seconds()), latest)


def tier_version(versions: Sequence[PricedVersion], customer: Customer, day: date) -> PricedVersion:
    """The customer's tariff version in force on `day`; FAILED_PRECONDITION without."""
    try:
        return version_on(versions, day)
    except NoTariffInForce as error:
        raise FailedPrecondition(f"tariffs/{customer.tariff} has no version in force") from error


def tier_standing(
    version: PricedVersion,
    customer: Customer,
    month: Month,
    energy_wh: int,
    year_before_wh: int,
    pace: Pace | None,
) -> insights_pb2.TierStanding:
    """The month's place in `version`'s tiers; with `pace` (the month in progress),
    the day the next tier likely starts."""
    annual = version.schedule.tier_period == "ANNUAL"
    tiers = version.schedule.tiers_for(month.month, large_household=customer.large_household)
    period_energy = energy_wh + (year_before_wh if annual else 0)
    position = tier_position(tiers, period_energy)
    standing = insights_pb2.TierStanding(
        tariff_version=version.name,
        tier_period=tariff_pb2.TierPeriod.Value(f"TIER_PERIOD_{version.schedule.tier_period}"),
        tier_period_energy_wh=period_energy,
        **tier_fields(position),
    )
    if pace is not None:
        standing.daily_pace_wh = pace.daily_wh
        period_end = Month(month.year + 1, 1).start if annual else month.end
        if position.next_tier is not None:
            day = pace.reached(position.remaining_wh, period_end)
            standing.next_tier_date = day.isoformat() if day else ""
    return standing


def comparison(
    energy_wh: int, charge_fen: int, rows: Sequence[MonthlyUsage]
) -> insights_pb2.MonthComparison:
    """This month's energy and charge against `rows` (their average when several)."""
    result = insights_pb2.MonthComparison(months=[row.month for row in rows])
    if not rows:
        return result
    result.energy_wh = _half_up(sum(r.energy_wh for r in rows), len(rows))
    result.charge_fen = _half_up(sum(r.charge_fen for r in rows), len(rows))
    for target, change in (
        (result.energy_change_percent, change_percent(energy_wh, result.energy_wh)),
        (result.charge_change_percent, change_percent(charge_fen, result.charge_fen)),
    ):
        if change is not None:
            target.CopyFrom(decimal_message(change))
    return result


def usage_analysis(
    session: Session, customer: Customer, month: Month, now: datetime
) -> insights_pb2.UsageAnalysis:
    """`customer`'s analysis of `month`; NOT_FOUND when the month has no figures."""
    name = f"customers/{customer.id}/usageAnalyses/{month}"
    first = month.plus(-12)
    rows = {
        row.month: row
        for row in session.exec(
            select(MonthlyUsage).where(
                MonthlyUsage.customer_id == customer.id,
                col(MonthlyUsage.month) >= str(Month(month.year, 1).plus(-12)),
                col(MonthlyUsage.month) <= str(month),
            )
        )
    }
    usage = rows.get(str(month))
    if usage is None:
        raise NotFound(f"{name} not found")
    bill = session.get(Bill, (customer.id, str(month)))
    charge = sum(line["amount_fen"] for line in lines_of(bill)) if bill else usage.charge_fen
    year_before = sum(
        row.energy_wh for key, row in rows.items() if f"{month.year:04d}-01" <= key < str(month)
    )
    in_progress = not usage.complete
    day = cst_date(now) if in_progress else month.last_day
    version = tier_version(published_versions(session, customer.tariff), customer, day)
    pace = month_pace(session, customer.id, month, usage.energy_wh) if in_progress else None
    analysis = insights_pb2.UsageAnalysis(
        name=name,
        month=str(month),
        energy_wh=usage.energy_wh,
        charge_fen=charge,
        billed=bill is not None,
        tier_standing=tier_standing(version, customer, month, usage.energy_wh, year_before, pace),
        same_month_last_year=comparison(
            usage.energy_wh, charge, [r for r in [rows.get(str(first))] if r is not None]
        ),
        last_three_months=comparison(
            usage.energy_wh,
            charge,
            [r for k in (-3, -2, -1) if (r := rows.get(str(month.plus(k)))) is not None],
        ),
        complete=usage.complete,
        reading_quality=resources_pb2.ReadingQuality.Value(
            f"READING_QUALITY_{usage.reading_quality}"
        ),
    )
    price = average_price(charge, usage.energy_wh)
    if price is not None:
        analysis.average_price_fen_per_kwh.CopyFrom(decimal_message(price))
    return analysis
