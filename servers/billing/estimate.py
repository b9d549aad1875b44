"""The current month so far (ChargeEstimate): energy, charge, tier position and the
month projected at the pace so far."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from palmgrid.billing.v1 import resources_pb2
from servers.billing.charging import (
    NoTariffInForce,
    TierPosition,
    charge_month,
    tier_position,
    version_on,
)
from servers.billing.models import Customer, MeterReading, MonthlyUsage, ReadingQuality
from servers.billing.months import Month, cst_date
from servers.billing.recompute import TIME_OF_USE_COLUMNS
from servers.billing.tariff_catalog import published_versions
from servers.runtime import FailedPrecondition
from servers.runtime.protoconv import decimal_message, timestamp


def _scaled(value: int, numerator: int, denominator: int) -> int:
    """value × numerator / denominator rounded half up, in integers; `value` when the
    denominator is 0."""
    if denominator <= 0:
        return value
    return (2 * value * numerator + denominator) // (2 * denominator)


def tier_fields(position: TierPosition) -> dict[str, Any]:
    """The tier position as the fields ChargeEstimate and TierStanding share: current
    tier, Wh left in it, whether it is the top one, its and the next tier's unit price."""
    return {
        "current_tier": position.tier.tier,
        "tier_remaining_wh": position.remaining_wh,
        "top_tier": position.next_tier is None,
        "current_unit_price": decimal_message(position.tier.unit_price),
        "next_unit_price": decimal_message(position.next_tier.unit_price)
        if position.next_tier
        else None,
    }


def year_before_wh(session: Session, customer_id: str, month: Month) -> int:
    """Energy of the calendar year's months before `month`, in Wh (annual tiers count
    from it)."""
    total = session.exec(
        select(func.coalesce(func.sum(MonthlyUsage.energy_wh), 0)).where(
            MonthlyUsage.customer_id == customer_id,
            col(MonthlyUsage.month) >= f"{month.year:04d}-01",
            col(MonthlyUsage.month) < str(month),
        )
    ).one()
    return int(total)


def charge_estimate(
    session: Session, customer: Customer, now: datetime
) -> resources_pb2.ChargeEstimate:
    """The estimate of `customer` at `now`; FAILED_PRECONDITION without a tariff in
    force."""
    month = Month.of(now)
    usage = session.get(MonthlyUsage, (customer.id, str(month)))
    energy = usage.energy_wh if usage else 0
    periods = {
        period: value
        for period, column in TIME_OF_USE_COLUMNS.items()
        if usage is not None and (value := getattr(usage, column)) is not None
    }
    quality = usage.reading_quality if usage else ReadingQuality.ACTUAL.value
    year_before = year_before_wh(session, customer.id, month)
    reading_time = session.exec(
        select(func.max(MeterReading.read_time)).where(
            MeterReading.customer_id == customer.id, MeterReading.read_time >= month.start
        )
    ).one()
    versions = published_versions(session, customer.tariff)
    try:
        version = version_on(versions, cst_date(now))
        charge = charge_month(
            month,
            versions,
            energy,
            time_of_use_wh=periods,
            year_to_date_wh=year_before,
            large_household=customer.large_household,
        )
    except NoTariffInForce as error:
        raise FailedPrecondition(f"tariffs/{customer.tariff} has no version in force") from error
    annual = version.schedule.tier_period == "ANNUAL"
    tiers = version.schedule.tiers_for(month.month, large_household=customer.large_household)
    period_energy = energy + (year_before if annual else 0)
    position = tier_position(tiers, period_energy)
    # Project from the latest reading: the month's length over the time it covers.
    elapsed = int((reading_time - month.start).total_seconds()) if reading_time else 0
    whole = int((month.end - month.start).total_seconds())
    projected = _scaled(energy, whole, elapsed)
    projected_charge = charge_month(
        month,
        versions,
        projected,
        time_of_use_wh={p: _scaled(v, whole, elapsed) for p, v in periods.items()},
        year_to_date_wh=year_before,
        large_household=customer.large_household,
    )
    return resources_pb2.ChargeEstimate(
        name=f"customers/{customer.id}/chargeEstimate",
        month=str(month),
        reading_time=timestamp(reading_time),
        energy_wh=energy,
        amount_fen=charge.amount_fen,
        tariff_version=version.name,
        tier_period_energy_wh=period_energy,
        **tier_fields(position),
        projected_energy_wh=projected,
        projected_amount_fen=projected_charge.amount_fen,
        reading_quality=resources_pb2.ReadingQuality.Value(f"READING_QUALITY_{quality}"),
    )
