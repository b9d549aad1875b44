"""Tariff schedules as data: the tiers, seasons, large-household allowance and
time-of-use prices of one tariff version.

A schedule is read from a mapping (a version table of a tariff TOML file under
`servers/billing/tariffs/`, or the JSON stored with a version in the database) and
written back to the same form, so files, rows and the API carry one shape:

    tier_period = "MONTHLY"                 # or "ANNUAL"
    large_household_extra_wh = 100000
    tiers = [{upper_bound_wh = 170000, unit_price = "0.4556"}, …, {unit_price = "0.7556"}]
    [[seasons]]  start_month = 5, end_month = 10, tiers = […]
    [[time_of_use_prices]]  period = "VALLEY", windows = [["23:00", "24:00"], …],
                            unit_price_adjustment = "-0.25"

Unit prices are yuan per kWh, written as strings and held as `Decimal` (never floats);
bounds are Wh of the tier period; the last tier of each list is unbounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

TIER_PERIODS = ("MONTHLY", "ANNUAL")
TIME_OF_USE_PERIODS = ("SHARP", "PEAK", "FLAT", "VALLEY")
_PRICE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,6})?$")
_ADJUSTMENT = re.compile(r"^-?[0-9]{1,3}(\.[0-9]{1,6})?$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


class ScheduleError(ValueError):
    """A schedule that breaks a rule; the message names the field."""


@dataclass(frozen=True)
class Tier:
    """One tier: energy of the tier period up to `upper_bound_wh` (inclusive; None for
    the top tier) is charged at `unit_price` yuan/kWh."""

    tier: int
    upper_bound_wh: int | None
    unit_price: Decimal


@dataclass(frozen=True)
class Season:
    """Months `start_month`…`end_month` (inclusive, may wrap the new year) with their
    own tiers."""

    start_month: int
    end_month: int
    tiers: tuple[Tier, ...]
    display_name: str = ""

    def covers(self, month: int) -> bool:
        if self.start_month <= self.end_month:
            return self.start_month <= month <= self.end_month
        return month >= self.start_month or month <= self.end_month


@dataclass(frozen=True)
class TimeOfUsePrice:
    """A time-of-use period: its windows of the day ("HH:MM", end exclusive, "24:00"
    for midnight) and the adjustment added to the tier price, yuan/kWh."""

    period: str
    windows: tuple[tuple[str, str], ...]
    unit_price_adjustment: Decimal


@dataclass(frozen=True)
class Schedule:
    """The prices of one tariff version."""

    tier_period: str
    tiers: tuple[Tier, ...]
    seasons: tuple[Season, ...] = ()
    large_household_extra_wh: int = 0
    time_of_use_prices: tuple[TimeOfUsePrice, ...] = field(default=())

    def tiers_for(self, month: int, *, large_household: bool = False) -> tuple[Tier, ...]:
        """The tiers in force in calendar month `month` (1–12): its season's or the
        default ones; for a large household every bound is raised by the allowance, so
        the extra energy is charged at the tier-1 price and the higher tiers keep their
        widths."""
        tiers = next((s.tiers for s in self.seasons if s.covers(month)), self.tiers)
        extra = self.large_household_extra_wh if large_household else 0
        if not extra:
            return tiers
        return tuple(
            Tier(
                t.tier, None if t.upper_bound_wh is None else t.upper_bound_wh + extra, t.unit_price
            )
            for t in tiers
        )

    def adjustment_for(self, period: str) -> Decimal | None:
        """The time-of-use adjustment of `period` ("PEAK", …), None when it has none."""
        for price in self.time_of_use_prices:
            if price.period == period:
                return price.unit_price_adjustment
        return None

    # -- the mapping form ------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Schedule:
        """Read and check a schedule; ScheduleError names the first broken rule."""
        period = str(data.get("tier_period", ""))
        if period not in TIER_PERIODS:
            raise ScheduleError(f"tier_period: must be one of {', '.join(TIER_PERIODS)}")
        seasons = tuple(
            _season(item, f"seasons[{i}]") for i, item in enumerate(data.get("seasons", ()))
        )
        _check_seasons_disjoint(seasons)
        extra = data.get("large_household_extra_wh", 0)
        if not isinstance(extra, int) or isinstance(extra, bool) or not 0 <= extra <= 10**8:
            raise ScheduleError("large_household_extra_wh: must be an integer 0…100000000 (Wh)")
        prices = tuple(
            _time_of_use(item, f"time_of_use_prices[{i}]")
            for i, item in enumerate(data.get("time_of_use_prices", ()))
        )
        if len({p.period for p in prices}) != len(prices):
            raise ScheduleError("time_of_use_prices: each period at most once")
        return cls(period, _tiers(data.get("tiers"), "tiers"), seasons, extra, prices)

    def to_mapping(self) -> dict[str, Any]:
        """The mapping form (JSON- and TOML-ready; prices as strings)."""
        data: dict[str, Any] = {
            "tier_period": self.tier_period,
            "tiers": [_tier_mapping(t) for t in self.tiers],
        }
        if self.seasons:
            data["seasons"] = [
                {
                    "display_name": s.display_name,
                    "start_month": s.start_month,
                    "end_month": s.end_month,
                    "tiers": [_tier_mapping(t) for t in s.tiers],
                }
                for s in self.seasons
            ]
        if self.large_household_extra_wh:
            data["large_household_extra_wh"] = self.large_household_extra_wh
        if self.time_of_use_prices:
            data["time_of_use_prices"] = [
                {
                    "period": p.period,
                    "windows": [list(w) for w in p.windows],
                    "unit_price_adjustment": str(p.unit_price_adjustment),
                }
                for p in self.time_of_use_prices
            ]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_mapping(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        return cls.from_mapping(json.loads(text))


def _tier_mapping(tier: Tier) -> dict[str, Any]:
    data: dict[str, Any] = {"unit_price": str(tier.unit_price)}
    if tier.upper_bound_wh is not None:
        data["upper_bound_wh"] = tier.upper_bound_wh
    return data


def _decimal(value: object, pattern: re.Pattern[str], where: str) -> Decimal:
    # Strings only: a TOML or JSON float would already have lost the exact price.
    if not isinstance(value, str) or not pattern.match(value):
        raise ScheduleError(f'{where}: must be a decimal string such as "0.4556"')
    try:
        return Decimal(value)
    except InvalidOperation as error:  # pragma: no cover - the pattern rules it out
        raise ScheduleError(f"{where}: not a decimal") from error


def _tiers(items: object, where: str) -> tuple[Tier, ...]:
    if not isinstance(items, Sequence) or isinstance(items, str) or not 1 <= len(items) <= 10:
        raise ScheduleError(f"{where}: must list 1 to 10 tiers")
    tiers: list[Tier] = []
    previous = 0
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise ScheduleError(f"{here}: must be a table")
        bound = item.get("upper_bound_wh")
        last = index == len(items) - 1
        if last and bound not in (None, 0):
            raise ScheduleError(f"{here}.upper_bound_wh: the last tier has no upper bound")
        if not last:
            if not isinstance(bound, int) or isinstance(bound, bool) or bound <= previous:
                raise ScheduleError(
                    f"{here}.upper_bound_wh: must be an integer above the previous bound (Wh)"
                )
            previous = bound
        price = _decimal(item.get("unit_price"), _PRICE, f"{here}.unit_price")
        # Tiered prices rise with each tier (阶梯电价). A cheaper later tier would also let
        # more energy cost less when a month is prorated over an annual-tier change.
        if tiers and price < tiers[-1].unit_price:
            raise ScheduleError(f"{here}.unit_price: must not be below the previous tier's")
        tiers.append(Tier(index + 1, None if last else bound, price))
    return tuple(tiers)


def _season(item: object, where: str) -> Season:
    if not isinstance(item, Mapping):
        raise ScheduleError(f"{where}: must be a table")
    months = []
    for key in ("start_month", "end_month"):
        value = item.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 12:
            raise ScheduleError(f"{where}.{key}: must be a month 1…12")
        months.append(value)
    return Season(
        months[0],
        months[1],
        _tiers(item.get("tiers"), f"{where}.tiers"),
        str(item.get("display_name", "")),
    )


def _check_seasons_disjoint(seasons: Sequence[Season]) -> None:
    for month in range(1, 13):
        if sum(season.covers(month) for season in seasons) > 1:
            raise ScheduleError(f"seasons: month {month} is in more than one season")


def _time_of_use(item: object, where: str) -> TimeOfUsePrice:
    if not isinstance(item, Mapping):
        raise ScheduleError(f"{where}: must be a table")
    period = item.get("period")
    if period not in TIME_OF_USE_PERIODS:
        raise ScheduleError(f"{where}.period: must be one of {', '.join(TIME_OF_USE_PERIODS)}")
    windows = item.get("windows")
    if not isinstance(windows, Sequence) or not 1 <= len(windows) <= 12:
        raise ScheduleError(f"{where}.windows: must list 1 to 12 [start, end] pairs")
    pairs: list[tuple[str, str]] = []
    for index, window in enumerate(windows):
        ok = (
            isinstance(window, Sequence)
            and len(window) == 2
            and all(isinstance(t, str) and _CLOCK.match(t) for t in window)
            and window[0] < window[1]
            and window[0] != "24:00"
        )
        if not ok:
            raise ScheduleError(
                f'{where}.windows[{index}]: must be ["HH:MM", "HH:MM"], start < end'
            )
        pairs.append((str(window[0]), str(window[1])))
    adjustment = _decimal(
        item.get("unit_price_adjustment"), _ADJUSTMENT, f"{where}.unit_price_adjustment"
    )
    return TimeOfUsePrice(str(period), tuple(pairs), adjustment)
