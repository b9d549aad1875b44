"""Monthly usage from meter readings.

Readings are cumulative register values. Between two consecutive usable readings of
one meter the energy is the register difference times the meter's multiplier:

- Register rollover: a register that reads less than before has wrapped past its
  capacity, taken as the smallest power of ten of kWh above the earlier value (a
  5-digit register wraps at 100000 kWh), so the energy is capacity − before + after.
- Meter replacement: each meter's readings are differenced on their own, so the old
  meter's last reading closes its run and the new meter's first reading opens its own;
  the month's energy is the sum over meters.
- Missing readings (quality MISSING) are skipped: the energy between the readings around
  them is spread over the gap, and figures computed across the gap are ESTIMATED.
- An interval that spans a month boundary is shared between the months in proportion
  to its time in each (to the Wh; the shares sum to the interval's energy).

A month is complete once it has ended and some meter was read at or after its end; the
current month's figures grow with each reading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from servers.billing.charging import share_by_weights
from servers.billing.models import ReadingQuality
from servers.billing.months import Month, months_between

_QUALITY_RANK = {q.value: rank for rank, q in enumerate(ReadingQuality)}


def worse(a: str, b: str) -> str:
    """The worse of two reading qualities (ACTUAL < ESTIMATED < MISSING)."""
    return a if _QUALITY_RANK[a] >= _QUALITY_RANK[b] else b


@dataclass(frozen=True)
class Reading:
    """A register reading: total Wh and time-of-use registers ("PEAK": Wh, …)."""

    meter_id: str
    read_time: datetime
    value_wh: int
    quality: str = ReadingQuality.ACTUAL.value
    registers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Interval:
    """Energy used between two consecutive usable readings of one meter."""

    start: Reading
    end: Reading
    energy_wh: int
    time_of_use_wh: Mapping[str, int]
    quality: str


@dataclass
class MonthFigures:
    """A month's energy (Wh), per time-of-use period, quality, completeness and the
    readings that open and close it."""

    month: Month
    energy_wh: int = 0
    time_of_use_wh: dict[str, int] = field(default_factory=dict)
    quality: str = ReadingQuality.ACTUAL.value
    complete: bool = False
    opening: Reading | None = None
    closing: Reading | None = None


def register_delta(before_wh: int, after_wh: int) -> int:
    """Wh counted by a register from `before_wh` to `after_wh`, across a rollover when
    the register went down."""
    if after_wh >= before_wh:
        return after_wh - before_wh
    capacity_kwh = 10 ** len(str(before_wh // 1000))
    return capacity_kwh * 1000 - before_wh + after_wh


def intervals(readings: Iterable[Reading], multipliers: Mapping[str, int]) -> list[Interval]:
    """Consecutive usable readings of each meter, differenced (multiplier default 1)."""
    by_meter: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_meter[reading.meter_id].append(reading)
    result: list[Interval] = []
    for meter_id, meter_readings in by_meter.items():
        multiplier = multipliers.get(meter_id, 1)
        previous: Reading | None = None
        skipped = False
        for reading in sorted(meter_readings, key=lambda r: r.read_time):
            if reading.quality == ReadingQuality.MISSING.value:
                skipped = True
                continue
            if previous is not None and reading.read_time > previous.read_time:
                quality = worse(previous.quality, reading.quality)
                if skipped:
                    quality = worse(quality, ReadingQuality.ESTIMATED.value)
                registers = {
                    period: register_delta(previous.registers[period], value) * multiplier
                    for period, value in reading.registers.items()
                    if period in previous.registers
                }
                energy = register_delta(previous.value_wh, reading.value_wh) * multiplier
                result.append(Interval(previous, reading, energy, registers, quality))
            if previous is None or reading.read_time > previous.read_time:
                previous = reading
                skipped = False
    result.sort(key=lambda i: (i.start.read_time, i.end.read_time))
    return result


def _month_shares(interval: Interval) -> list[tuple[Month, int]]:
    """How many seconds of the interval fall in each month it touches."""
    start, end = interval.start.read_time, interval.end.read_time
    shares = []
    for month in months_between(Month.of(start), Month.of(end)):
        seconds = (min(end, month.end) - max(start, month.start)).total_seconds()
        if seconds > 0:
            shares.append((month, int(seconds)))
    return shares


def monthly_figures(
    all_intervals: Sequence[Interval], *, now: datetime, first_month: Month | None = None
) -> list[MonthFigures]:
    """Figures for every month from the first interval's (or `first_month`) through the
    month of `now`, oldest first; months without intervals have 0 Wh."""
    if not all_intervals and first_month is None:
        return []
    current = Month.of(now)
    start = first_month or Month.of(all_intervals[0].start.read_time)
    figures = {month: MonthFigures(month) for month in months_between(start, current)}
    latest = max((i.end.read_time for i in all_intervals), default=None)
    for interval in all_intervals:
        shares = _month_shares(interval)
        weights = [seconds for _, seconds in shares]
        energy = share_by_weights(interval.energy_wh, weights)
        periods = {p: share_by_weights(wh, weights) for p, wh in interval.time_of_use_wh.items()}
        for index, (month, _) in enumerate(shares):
            figure = figures.get(month)
            if figure is None:
                continue
            figure.energy_wh += energy[index]
            for period, parts in periods.items():
                figure.time_of_use_wh[period] = figure.time_of_use_wh.get(period, 0) + parts[index]
            figure.quality = worse(figure.quality, interval.quality)
            if figure.opening is None:
                figure.opening = interval.start
            if figure.closing is None or interval.end.read_time >= figure.closing.read_time:
                figure.closing = interval.end
    for month, figure in figures.items():
        figure.complete = month < current and latest is not None and latest >= month.end
    return list(figures.values())


def year_to_date(figures: Sequence[MonthFigures], month: Month) -> int:
    """Energy (Wh) of the months of `month`'s year before it."""
    return sum(f.energy_wh for f in figures if f.month.year == month.year and f.month < month)
