"""A customer's yearly trend (UsageTrend): the 12 closed months ending last month, with
energy, charges and the carbon dioxide of the electricity, from the grid emission
factor kept as data (`emission_factor.toml`, with its published source and year)."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources

from sqlmodel import Session, col, select

from palmgrid.billing.v1 import insights_pb2
from servers.billing.models import MonthlyUsage
from servers.billing.months import Month
from servers.runtime.protoconv import decimal_message

MONTHS = 12


@dataclass(frozen=True)
class EmissionFactor:
    kg_per_kwh: Decimal
    region: str
    data_year: int
    source: str

    def carbon_grams(self, energy_wh: int) -> int:
        """CO2 of `energy_wh` in grams (kg/kWh is g/Wh), rounded half up."""
        exact = Decimal(energy_wh) * self.kg_per_kwh
        return int(exact.to_integral_value(rounding="ROUND_HALF_UP"))

    def message(self) -> insights_pb2.EmissionFactor:
        return insights_pb2.EmissionFactor(
            kg_per_kwh=decimal_message(self.kg_per_kwh),
            region=self.region,
            data_year=self.data_year,
            source=self.source,
        )


@functools.cache
def emission_factor() -> EmissionFactor:
    """The factor of `emission_factor.toml`."""
    text = resources.files("servers.billing").joinpath("emission_factor.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return EmissionFactor(
        Decimal(data["kg_per_kwh"]), data["region"], int(data["data_year"]), data["source"]
    )


def usage_trend(session: Session, customer_id: str, now: datetime) -> insights_pb2.UsageTrend:
    """The 12 months ending last month, oldest first."""
    last = Month.of(now).previous()
    months = [last.plus(k - MONTHS + 1) for k in range(MONTHS)]
    rows = {
        row.month: row
        for row in session.exec(
            select(MonthlyUsage).where(
                MonthlyUsage.customer_id == customer_id,
                col(MonthlyUsage.month) >= str(months[0]),
                col(MonthlyUsage.month) <= str(last),
            )
        )
    }
    factor = emission_factor()
    trend = insights_pb2.UsageTrend(
        name=f"customers/{customer_id}/usageTrend", emission_factor=factor.message()
    )
    for month in months:
        entry = trend.months.add(month=str(month))
        row = rows.get(str(month))
        if row is None:
            continue
        entry.energy_wh, entry.charge_fen = row.energy_wh, row.charge_fen
        entry.carbon_grams = factor.carbon_grams(row.energy_wh)
        trend.total_energy_wh += row.energy_wh
        trend.total_charge_fen += row.charge_fen
        trend.total_carbon_grams += entry.carbon_grams
    return trend
