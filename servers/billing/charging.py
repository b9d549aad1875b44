"""The tariff engine: what a month's energy costs under a tariff's versions.

Rules (docs/billing.md has them with examples):

- Line amount: energy_wh / 1000 kWh × unit price (yuan/kWh) × 100, rounded half up
  (away from zero) to whole fen, separately for each line. A charge's total is the sum
  of its line amounts, never a separately rounded product.
- Tiers: energy of the tier period up to and including a tier's upper bound is in that
  tier or a lower one. Monthly tiers count the month's energy; annual tiers continue
  from the energy already used in the calendar year (`year_to_date_wh`).
- Seasons: the tiers of the season covering the billed month, else the default tiers.
- Large households: every bound is raised by the version's allowance (servers.billing.
  schedule.Schedule.tiers_for).
- Proration: when versions change within the month, the month is cut into segments of
  whole days by version. Energy is shared out by days (each segment takes its share of
  what the earlier segments left, rounded half up, so every share grows with the
  total); for monthly tiers each segment's bounds are the bounds × its days / the
  month's days, rounded half up to whole Wh. Each segment is charged on its own; the
  month's lines are all segments' lines.
- Time of use: for time-of-use customers, each period's energy is also charged at the
  period's adjustment (negative for the valley), one line per period with energy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from servers.billing.months import Month
from servers.billing.schedule import TIME_OF_USE_PERIODS, Schedule, Tier

TIER = "TIER"
TIME_OF_USE = "TIME_OF_USE"


class NoTariffInForce(LookupError):
    """No published version of the tariff covers a day that is being charged."""


def line_amount_fen(energy_wh: int, unit_price: Decimal) -> int:
    """energy_wh / 1000 × unit_price (yuan/kWh) × 100 fen, rounded half up to whole fen."""
    exact = Decimal(energy_wh) * unit_price / 10
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _round_half_up(value: Fraction) -> int:
    """A non-negative fraction rounded half up to an integer, exactly."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


@dataclass(frozen=True)
class PricedVersion:
    """A published tariff version: its name, first day in force and schedule."""

    name: str
    effective_date: date
    schedule: Schedule


@dataclass(frozen=True)
class Segment:
    """Days of a month charged under one version."""

    version: PricedVersion
    first_day: date
    days: int


@dataclass(frozen=True)
class ChargeLine:
    """One line: `kind` TIER (with `tier`) or TIME_OF_USE (with `period`)."""

    kind: str
    tier: int
    period: str
    energy_wh: int
    unit_price: Decimal
    amount_fen: int
    version: str


@dataclass(frozen=True)
class Charge:
    """A month's charge: its lines and the segments they were computed in."""

    lines: tuple[ChargeLine, ...]
    segments: tuple[Segment, ...]

    @property
    def amount_fen(self) -> int:
        """The total, in fen: the sum of the line amounts."""
        return sum(line.amount_fen for line in self.lines)

    @property
    def energy_wh(self) -> int:
        """The energy on tier lines, in Wh (time-of-use lines price the same energy)."""
        return sum(line.energy_wh for line in self.lines if line.kind == TIER)

    @property
    def tariff_version(self) -> str:
        """The version in force at the end of the month."""
        return self.segments[-1].version.name


def version_on(versions: Sequence[PricedVersion], day: date) -> PricedVersion:
    """The version in force on `day`: the latest effective on or before it."""
    best: PricedVersion | None = None
    for version in versions:
        if version.effective_date <= day and (
            best is None or version.effective_date > best.effective_date
        ):
            best = version
    if best is None:
        raise NoTariffInForce(f"no tariff version is in force on {day.isoformat()}")
    return best


def segments_of(month: Month, versions: Sequence[PricedVersion]) -> tuple[Segment, ...]:
    """The month cut into runs of days under one version each."""
    first, last = month.first_day, month.last_day
    changes = sorted({v.effective_date for v in versions if first < v.effective_date <= last})
    segments: list[Segment] = []
    start, version = first, version_on(versions, first)
    for change in changes:
        segments.append(Segment(version, start, (change - start).days))
        start, version = change, version_on(versions, change)
    segments.append(Segment(version, start, (last - start).days + 1))
    return tuple(segments)


def share_by_weights(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` (days, seconds): each takes its share of
    what the earlier ones left, rounded half up, so the shares sum to `total` and each
    grows with it."""
    if len(weights) == 1:
        return [total]
    shares: list[int] = []
    left, weight_left = total, sum(weights)
    for weight in weights:
        if weight == weight_left:
            share = left
        else:
            share = _round_half_up(Fraction(left * weight, weight_left))
        shares.append(share)
        left -= share
        weight_left -= weight
    return shares


def tier_lines(
    tiers: Sequence[Tier],
    *,
    start_wh: int,
    energy_wh: int,
    version: str,
    bound_scale: Fraction = Fraction(1),
) -> list[ChargeLine]:
    """Lines for `energy_wh` used after `start_wh` of the tier period, one per tier
    touched; bounds are multiplied by `bound_scale` (proration) and rounded half up."""
    lines: list[ChargeLine] = []
    end = start_wh + energy_wh
    lower = 0
    whole = bound_scale == 1
    for tier in tiers:
        upper = tier.upper_bound_wh
        if upper is not None and not whole:
            upper = _round_half_up(upper * bound_scale)
        top = end if upper is None else min(end, upper)
        energy = max(0, top - max(start_wh, lower))
        if energy:
            amount = line_amount_fen(energy, tier.unit_price)
            lines.append(ChargeLine(TIER, tier.tier, "", energy, tier.unit_price, amount, version))
        if upper is None or upper >= end:
            break
        lower = upper
    return lines


def charge_segment(
    segment: Segment,
    month: Month,
    *,
    energy_wh: int,
    start_wh: int = 0,
    bound_scale: Fraction = Fraction(1),
    time_of_use_wh: Mapping[str, int] | None = None,
    large_household: bool = False,
) -> list[ChargeLine]:
    """The lines of one segment charged on its own (see the module docstring)."""
    schedule = segment.version.schedule
    tiers = schedule.tiers_for(month.month, large_household=large_household)
    lines = tier_lines(
        tiers,
        start_wh=start_wh,
        energy_wh=energy_wh,
        version=segment.version.name,
        bound_scale=bound_scale,
    )
    for period in TIME_OF_USE_PERIODS:
        energy = (time_of_use_wh or {}).get(period, 0)
        adjustment = schedule.adjustment_for(period)
        if energy and adjustment is not None:
            amount = line_amount_fen(energy, adjustment)
            lines.append(
                ChargeLine(TIME_OF_USE, 0, period, energy, adjustment, amount, segment.version.name)
            )
    return lines


def charge_month(
    month: Month,
    versions: Sequence[PricedVersion],
    energy_wh: int,
    *,
    time_of_use_wh: Mapping[str, int] | None = None,
    year_to_date_wh: int = 0,
    large_household: bool = False,
) -> Charge:
    """Charge `energy_wh` used in `month` under the tariff's published `versions`.

    `time_of_use_wh` is the energy per time-of-use period ("PEAK", …) for time-of-use
    customers; `year_to_date_wh` the energy of the same calendar year before this month
    (used by annual tiers). Raises NoTariffInForce when a day has no version.
    """
    if energy_wh < 0:
        raise ValueError("energy_wh must not be negative")
    segments = segments_of(month, versions)
    days = [segment.days for segment in segments]
    energies = share_by_weights(energy_wh, days)
    periods = dict(time_of_use_wh or {})
    period_shares = {period: share_by_weights(wh, days) for period, wh in periods.items()}
    lines: list[ChargeLine] = []
    used = year_to_date_wh
    for index, segment in enumerate(segments):
        annual = segment.version.schedule.tier_period == "ANNUAL"
        lines += charge_segment(
            segment,
            month,
            energy_wh=energies[index],
            start_wh=used if annual else 0,
            bound_scale=Fraction(1) if annual else Fraction(segment.days, month.days),
            time_of_use_wh={period: shares[index] for period, shares in period_shares.items()},
            large_household=large_household,
        )
        used += energies[index]
    return Charge(tuple(lines), segments)


@dataclass(frozen=True)
class TierPosition:
    """Where a tier-period energy stands: the tier the next Wh falls in, the Wh left
    before the next tier (0 in the top tier) and the next tier (None in the top)."""

    tier: Tier
    remaining_wh: int
    next_tier: Tier | None


def tier_position(tiers: Sequence[Tier], period_energy_wh: int) -> TierPosition:
    """The position of `period_energy_wh` (Wh used so far in the tier period)."""
    for index, tier in enumerate(tiers):
        if tier.upper_bound_wh is None or period_energy_wh < tier.upper_bound_wh:
            following = tiers[index + 1] if index + 1 < len(tiers) else None
            remaining = 0 if tier.upper_bound_wh is None else tier.upper_bound_wh - period_energy_wh
            return TierPosition(tier, remaining, following)
    raise ValueError("the last tier must be unbounded")  # pragma: no cover - schedule rule
