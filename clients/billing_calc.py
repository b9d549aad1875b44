"""Compute a month's electricity charge from a published tariff, as the app can.

Give it the JSON of `GET /v1/tariffs/{tariff}` (proto3 JSON, as the edge serves it)
and a month's usage; it returns the bill lines and total exactly as the billing
service computes them, to the fen. Standard library only, so it can be copied into any
Python client. The rules (docs/billing.md):

- A line's amount is energy_wh / 1000 × unit price (yuan/kWh) × 100 fen, rounded half
  up (half away from zero for negative time-of-use adjustments) to whole fen; the total
  is the sum of the lines.
- Energy up to and including a tier's upper bound (Wh of the tier period) is in that
  tier or a lower one. Monthly tiers count the month; annual tiers continue from the
  energy used earlier in the calendar year (`year_to_date_wh`).
- The month's season (if any) picks the tiers; a large household has every bound raised
  by `largeHouseholdExtraWh`.
- When versions change within the month, the month is cut into runs of days by
  version; each run takes its share of the energy (of what the earlier runs left, by
  days, rounded half up) and, for monthly tiers, bounds × its days / the month's days
  (rounded half up to whole Wh), and is charged on its own.
- Time-of-use customers also pay each period's adjustment on that period's energy.

    tariff = session.get("/v1/tariffs/residential-tiered").json()
    bill = compute_bill(tariff, "2024-07", 300_000)
    bill.amount_fen  # 15317

`next_tier_start` answers "when will the next tier start" offline, from the figures of
`GET /v1/customers/{customer}/usageForecast` (energySoFarWh, remainingDailyWh), as the
service computes its `nextTierDate`:

    next_tier_start(tariff, date(2026, 6, 20), 204_000, 17_077)
    # NextTier(tier=3, remaining_wh=56000, day=date(2026, 6, 23))
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "BillLine",
    "ComputedBill",
    "NextTier",
    "compute_bill",
    "line_amount_fen",
    "next_tier_start",
]


@dataclass(frozen=True)
class BillLine:
    """One line: kind "TIER" (with `tier`) or "TIME_OF_USE" (with `period`, e.g. "PEAK")."""

    kind: str
    tier: int
    period: str
    energy_wh: int
    unit_price: Decimal
    amount_fen: int
    version: str


@dataclass(frozen=True)
class ComputedBill:
    """The lines, their total (fen) and the version in force at the end of the month."""

    lines: tuple[BillLine, ...]
    amount_fen: int
    tariff_version: str


@dataclass(frozen=True)
class _Tier:
    tier: int
    upper_bound_wh: int | None
    unit_price: Decimal


@dataclass(frozen=True)
class _Version:
    name: str
    effective: date
    annual: bool
    tiers: tuple[_Tier, ...]
    seasons: tuple[tuple[int, int, tuple[_Tier, ...]], ...]
    extra_wh: int
    adjustments: Mapping[str, Decimal]


def line_amount_fen(energy_wh: int, unit_price: Decimal) -> int:
    """energy_wh / 1000 × unit_price × 100, rounded half up to whole fen."""
    return int((Decimal(energy_wh) * unit_price / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _tiers(items: Sequence[Mapping[str, Any]]) -> tuple[_Tier, ...]:
    tiers = []
    for index, item in enumerate(items):
        bound = int(item.get("upperBoundWh", 0))
        last = index == len(items) - 1
        tiers.append(
            _Tier(
                int(item["tier"]),
                None if last or not bound else bound,
                Decimal(item["unitPrice"]["value"]),
            )
        )
    return tuple(tiers)


def _version(data: Mapping[str, Any]) -> _Version:
    day = data["effectiveDate"]
    return _Version(
        name=data["name"],
        effective=date(day["year"], day["month"], day["day"]),
        annual=data["tierPeriod"] == "TIER_PERIOD_ANNUAL",
        tiers=_tiers(data["tiers"]),
        seasons=tuple(
            (int(s["startMonth"]), int(s["endMonth"]), _tiers(s["tiers"]))
            for s in data.get("seasons", [])
        ),
        extra_wh=int(data.get("largeHouseholdExtraWh", 0)),
        adjustments={
            p["period"].removeprefix("TIME_OF_USE_PERIOD_"): Decimal(
                p["unitPriceAdjustment"]["value"]
            )
            for p in data.get("timeOfUsePrices", [])
        },
    )


def _season_covers(start: int, end: int, month: int) -> bool:
    return start <= month <= end if start <= end else month >= start or month <= end


def _tiers_for(version: _Version, month: int, large_household: bool) -> tuple[_Tier, ...]:
    tiers = next(
        (tiers for start, end, tiers in version.seasons if _season_covers(start, end, month)),
        version.tiers,
    )
    if not large_household or not version.extra_wh:
        return tiers
    return tuple(
        _Tier(
            t.tier,
            None if t.upper_bound_wh is None else t.upper_bound_wh + version.extra_wh,
            t.unit_price,
        )
        for t in tiers
    )


def _in_force(versions: Sequence[_Version], day: date) -> _Version:
    candidates = [v for v in versions if v.effective <= day]
    if not candidates:
        raise ValueError(f"no tariff version is in force on {day.isoformat()}")
    return max(candidates, key=lambda v: v.effective)


def _shares(total: int, weights: Sequence[int]) -> list[int]:
    shares, left, weight_left = [], total, sum(weights)
    for weight in weights:
        share = left if weight == weight_left else _half_up(left * weight, weight_left)
        shares.append(share)
        left -= share
        weight_left -= weight
    return shares


def _tier_lines(
    tiers: Sequence[_Tier],
    start: int,
    energy: int,
    days: int,
    month_days: int,
    scale: bool,
    name: str,
) -> list[BillLine]:
    lines, end, lower = [], start + energy, 0
    for tier in tiers:
        upper = tier.upper_bound_wh
        if upper is not None and scale and days != month_days:
            upper = _half_up(upper * days, month_days)
        top = end if upper is None else min(end, upper)
        used = max(0, top - max(start, lower))
        if used:
            lines.append(
                BillLine(
                    "TIER",
                    tier.tier,
                    "",
                    used,
                    tier.unit_price,
                    line_amount_fen(used, tier.unit_price),
                    name,
                )
            )
        if upper is None or upper >= end:
            break
        lower = upper
    return lines


@dataclass(frozen=True)
class NextTier:
    """The tier after the current one, the Wh left before it starts and the day it is
    expected to start (None: not within the tier period at this pace)."""

    tier: int
    remaining_wh: int
    day: date | None


def next_tier_start(
    tariff: Mapping[str, Any],
    today: date,
    period_energy_wh: int,
    daily_wh: int,
    *,
    large_household: bool = False,
) -> NextTier | None:
    """When the next tier starts if `daily_wh` are used each day from the start of
    `today` (China Standard Time days), with `period_energy_wh` already used in the tier
    period (the month's energy, or the year's for annual tiers). None in the top tier.

    The next tier starts once the current tier's bound is used up; its day is today
    plus the whole days that takes (remaining / daily_wh, rounded down), if that is
    before the tier period (month, or year for annual tiers) ends."""
    versions = [_version(v) for v in tariff.get("versions", [])]
    version = _in_force(versions, today)
    tiers = _tiers_for(version, today.month, large_household)
    for index, tier in enumerate(tiers):
        if tier.upper_bound_wh is None:
            return None
        if period_energy_wh < tier.upper_bound_wh:
            remaining = tier.upper_bound_wh - period_energy_wh
            following = tiers[index + 1].tier
            break
    else:  # pragma: no cover - the last tier is unbounded
        return None
    if version.annual:
        period_last = date(today.year, 12, 31)
    else:
        period_last = date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    days_left = (period_last - today).days + 1
    if daily_wh <= 0 or remaining >= days_left * daily_wh:
        return NextTier(following, remaining, None)
    return NextTier(
        following, remaining, date.fromordinal(today.toordinal() + remaining // daily_wh)
    )


def compute_bill(
    tariff: Mapping[str, Any],
    month: str,
    energy_wh: int,
    *,
    time_of_use_wh: Mapping[str, int] | None = None,
    year_to_date_wh: int = 0,
    large_household: bool = False,
) -> ComputedBill:
    """The bill of `energy_wh` used in `month` ("YYYY-MM") under `tariff` (the JSON of
    `GET /v1/tariffs/{tariff}`). `time_of_use_wh` maps periods ("PEAK", "VALLEY", …) to
    their energy for time-of-use customers; `year_to_date_wh` is the energy of the same
    year before `month` (annual tiers); `large_household` as on the customer."""
    versions = [_version(v) for v in tariff.get("versions", [])]
    year, number = (int(part) for part in month.split("-"))
    month_days = calendar.monthrange(year, number)[1]
    first, last = date(year, number, 1), date(year, number, month_days)
    runs: list[tuple[_Version, int]] = []
    changes = sorted({v.effective for v in versions if first < v.effective <= last})
    start = first
    for change in [*changes, None]:
        stop = change or date.fromordinal(last.toordinal() + 1)
        runs.append((_in_force(versions, start), (stop - start).days))
        start = stop
    days = [d for _, d in runs]
    energies = _shares(energy_wh, days)
    periods = {p: _shares(wh, days) for p, wh in (time_of_use_wh or {}).items()}
    lines: list[BillLine] = []
    used = year_to_date_wh
    for index, (version, run_days) in enumerate(runs):
        tiers = _tiers_for(version, number, large_household)
        start_wh = used if version.annual else 0
        lines += _tier_lines(
            tiers, start_wh, energies[index], run_days, month_days, not version.annual, version.name
        )
        for period in ("SHARP", "PEAK", "FLAT", "VALLEY"):
            energy = periods.get(period, [0] * len(runs))[index]
            adjustment = version.adjustments.get(period)
            if energy and adjustment is not None:
                lines.append(
                    BillLine(
                        "TIME_OF_USE",
                        0,
                        period,
                        energy,
                        adjustment,
                        line_amount_fen(energy, adjustment),
                        version.name,
                    )
                )
        used += energies[index]
    return ComputedBill(tuple(lines), sum(line.amount_fen for line in lines), runs[-1][0].name)
