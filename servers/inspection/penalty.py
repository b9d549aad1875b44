"""The charges recovered for electricity theft, by the supply rules (供电营业规则 art.
103): the stolen energy charged at the tariff, plus three times that as the penalty.

Where the period of the theft cannot be established it is taken as 180 days, at 12
hours a day for power users and 6 for lighting users; the stolen energy is then days ×
hours a day × the connected capacity. Money is integer fen, energy integer Wh; the
charge is energy_wh / 1000 × unit price (yuan/kWh) × 100, rounded half up, as bills
round their lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from palmgrid.inspection.v1 import resources_pb2
from servers.runtime import FieldViolation, InvalidArgument

UNKNOWN_PERIOD_DAYS = 180
HOURS_PER_DAY = {
    resources_pb2.USE_CATEGORY_LIGHTING: 6,
    resources_pb2.USE_CATEGORY_POWER: 12,
}
PENALTY_MULTIPLE = 3
FIELD = "theftAssessment"


def _price(assessment: resources_pb2.TheftAssessment) -> Decimal:
    price = Decimal(assessment.unit_price.value)
    if price <= 0:
        raise InvalidArgument(
            "the unit price of stolen energy must be above zero",
            field_violations=[FieldViolation(f"{FIELD}.unitPrice", "must be above zero")],
        )
    return price


def reckon(assessment: resources_pb2.TheftAssessment) -> resources_pb2.TheftPenalty:
    """The penalty for the theft `assessment` describes, line by line."""
    price = _price(assessment)
    days = assessment.period_days or UNKNOWN_PERIOD_DAYS
    hours = HOURS_PER_DAY[assessment.use_category]
    watts = assessment.connected_capacity_watts
    energy_wh = days * hours * watts
    charge_fen = int((Decimal(energy_wh) * price / 10).quantize(Decimal(1), ROUND_HALF_UP))
    penalty_fen = PENALTY_MULTIPLE * charge_fen
    total_fen = charge_fen + penalty_fen
    period = "" if assessment.period_days else "（窃电时间无法查明）"
    kwh = Decimal(energy_wh) / 1000
    lines = [
        resources_pb2.PenaltyLine(
            item="stolen_energy",
            description=f"{days} 天{period} × {hours} 小时/天 × {watts} W = {energy_wh} Wh",
            energy_wh=energy_wh,
        ),
        resources_pb2.PenaltyLine(
            item="charge",
            description=f"{kwh} kWh × {price} 元/kWh = {charge_fen} 分",
            amount_fen=charge_fen,
        ),
        resources_pb2.PenaltyLine(
            item="penalty",
            description=f"{PENALTY_MULTIPLE} × {charge_fen} 分 = {penalty_fen} 分",
            amount_fen=penalty_fen,
        ),
        resources_pb2.PenaltyLine(
            item="total",
            description=f"{charge_fen} 分 + {penalty_fen} 分 = {total_fen} 分",
            amount_fen=total_fen,
        ),
    ]
    return resources_pb2.TheftPenalty(
        assessment=assessment,
        days=days,
        hours_per_day=hours,
        energy_wh=energy_wh,
        charge_fen=charge_fen,
        penalty_fen=penalty_fen,
        total_fen=total_fen,
        lines=lines,
    )
