"""Daily usage (日电量): each meter's daily figures from the metering system, stored once
per meter and day, and read as one entry per day of a range with gaps left as gaps.

A day is a calendar day in China Standard Time. Nothing here is ever invented: a day
the metering system sent no figure for, or sent as MISSING, is a gap (no energy,
quality MISSING), and an estimate is shown as ESTIMATED because the metering system
said so. Monthly bills do not come from here (they come from the meter readings).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select, tuple_

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2
from servers.billing.models import DailyUsage, ReadingQuality
from servers.billing.readings import known_meters
from servers.runtime import FieldViolation, InvalidArgument

# The longest range one call reads (the "at most 400 days").
MAX_DAYS = 400
# The range when the caller names no start: the last 30 days.
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class DayRange:
    """The days `first` … `last`, both included."""

    first: date
    last: date

    @property
    def count(self) -> int:
        return (self.last - self.first).days + 1

    def days(self) -> list[date]:
        return [self.first + timedelta(days=k) for k in range(self.count)]


def parse_day(text: str, field_name: str) -> date:
    """A "YYYY-MM-DD" day; INVALID_ARGUMENT naming `field_name` when it is no date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{field_name}: {text!r} is not a calendar date (YYYY-MM-DD)",
            field_violations=[FieldViolation(field_name, "not a calendar date (YYYY-MM-DD)")],
        ) from None


def requested_range(
    start_text: str, end_text: str, today: date, *, default_days: int = DEFAULT_DAYS
) -> DayRange:
    """The range a request asks for: by default the `default_days` days through
    yesterday; refused naming the field when backwards or longer than MAX_DAYS."""
    last = parse_day(end_text, "endDate") if end_text else today - timedelta(days=1)
    first = (
        parse_day(start_text, "startDate")
        if start_text
        else last - timedelta(days=default_days - 1)
    )
    days = DayRange(first, last)
    # The field the caller set decides which one is named (endDate when both are).
    blamed = "endDate" if end_text or not start_text else "startDate"
    if first > last:
        why = "before startDate" if blamed == "endDate" else "after endDate"
        raise InvalidArgument(
            f"{blamed}: the range ends before it starts",
            field_violations=[FieldViolation(blamed, why)],
        )
    if days.count > MAX_DAYS:
        why = f"the range is {days.count} days; at most {MAX_DAYS}"
        raise InvalidArgument(f"{blamed}: {why}", field_violations=[FieldViolation(blamed, why)])
    return days


# Proto values and ranks of the stored quality names, looked up once (the read builds
# hundreds of days per call).
_QUALITY_VALUE = {q.value: q.proto for q in ReadingQuality}
_QUALITY_RANK = {q.value: rank for rank, q in enumerate(ReadingQuality)}


def fill_day(
    usage: resources_pb2.DailyUsage, customer_id: str, day: date, rows: Sequence[Any]
) -> None:
    """Set `usage` to one day of a customer from its meters' rows (none: a gap)."""
    text = day.isoformat()
    usage.name = f"customers/{customer_id}/dailyUsage/{text}"
    usage.date = text
    if not rows:
        usage.reading_quality = resources_pb2.READING_QUALITY_MISSING
        return
    total = None
    worst = rows[0].quality
    for row in sorted(rows, key=lambda r: r.meter_id) if len(rows) > 1 else rows:
        meter = usage.meter_usage.add(
            meter=f"customers/{customer_id}/meters/{row.meter_id}",
            reading_quality=_QUALITY_VALUE[row.quality],  # type: ignore[arg-type]
        )
        if row.energy_wh is not None:
            meter.energy_wh = row.energy_wh
            total = row.energy_wh + (total or 0)
        if _QUALITY_RANK[row.quality] > _QUALITY_RANK[worst]:
            worst = row.quality
    if total is not None:
        usage.energy_wh = total
    usage.reading_quality = _QUALITY_VALUE[worst]  # type: ignore[assignment]


def day_resource(customer_id: str, day: date, rows: Sequence[Any]) -> resources_pb2.DailyUsage:
    """One day of a customer from its meters' rows (none: a gap)."""
    usage = resources_pb2.DailyUsage()
    fill_day(usage, customer_id, day, rows)
    return usage


def daily_response(
    customer_id: str, days: DayRange, rows: Iterable[Any]
) -> service_pb2.ListDailyUsageResponse:
    """Every day of `days`, oldest first, from the stored rows of those days."""
    by_day: dict[date, list[Any]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    response = service_pb2.ListDailyUsageResponse(
        start_date=days.first.isoformat(), end_date=days.last.isoformat()
    )
    total = missing = 0
    for day in days.days():
        usage = response.daily_usage.add()
        fill_day(usage, customer_id, day, by_day.get(day, ()))
        if usage.HasField("energy_wh"):
            total += usage.energy_wh
        else:
            missing += 1
    response.total_energy_wh, response.missing_day_count = total, missing
    return response


# -- upserts from the metering system (through ingest) ------------------------------


@dataclass
class DailyCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Customers whose stored figures changed (their cached reads go stale).
    changed: set[str] = field(default_factory=set)


def _key(reading: internal_pb2.DailyMeterReading) -> tuple[str, str]:
    # customers/{customer}/meters/{meter}
    pieces = reading.meter.split("/")
    return pieces[1], pieces[3]


def check_daily_readings(
    session: Session, readings: Sequence[internal_pb2.DailyMeterReading]
) -> None:
    """Each figure names a known meter and a real day, once in the batch, with energy
    exactly when it is not MISSING."""
    known = known_meters(session, {_key(r) for r in readings})
    violations: list[FieldViolation] = []
    seen: set[tuple[str, str]] = set()
    for index, reading in enumerate(readings):
        where = f"dailyReadings[{index}]"
        if (reading.meter, reading.date) in seen:
            violations.append(FieldViolation(f"{where}.date", "the batch names the day twice"))
        seen.add((reading.meter, reading.date))
        if _key(reading) not in known:
            violations.append(FieldViolation(f"{where}.meter", "no such meter"))
        try:
            date.fromisoformat(reading.date)
        except ValueError:
            violations.append(FieldViolation(f"{where}.date", "not a calendar date"))
        missing = reading.quality == ReadingQuality.MISSING.proto
        if missing and reading.HasField("energy_wh"):
            violations.append(FieldViolation(f"{where}.energyWh", "a MISSING day has no energy"))
        if not missing and not reading.HasField("energy_wh"):
            violations.append(FieldViolation(f"{where}.energyWh", "required unless MISSING"))
    if violations:
        first = violations[0]
        raise InvalidArgument(
            f"invalid daily reading: {first.field}: {first.description}",
            field_violations=violations,
        )


def upsert_daily_readings(
    session: Session, readings: Sequence[internal_pb2.DailyMeterReading], now: datetime
) -> DailyCounts:
    """Create or replace each meter's day (call `check_daily_readings` first)."""
    counts = DailyCounts()
    keys = [(*_key(r), date.fromisoformat(r.date)) for r in readings]
    stored = {
        (row.customer_id, row.meter_id, row.day): row
        for row in session.exec(
            select(DailyUsage).where(
                tuple_(
                    col(DailyUsage.customer_id), col(DailyUsage.meter_id), col(DailyUsage.day)
                ).in_(keys)
            )
        )
    }
    for reading, key in zip(readings, keys, strict=True):
        energy = reading.energy_wh if reading.HasField("energy_wh") else None
        quality = resources_pb2.ReadingQuality.Name(reading.quality).removeprefix(
            "READING_QUALITY_"
        )
        row = stored.get(key)
        if row is None:
            session.add(
                DailyUsage(
                    customer_id=key[0],
                    meter_id=key[1],
                    day=key[2],
                    energy_wh=energy,
                    quality=quality,
                    update_time=now,
                )
            )
            counts.created += 1
        elif row.energy_wh == energy and row.quality == quality:
            counts.unchanged += 1
            continue
        else:
            row.energy_wh, row.quality, row.update_time = energy, quality, now
            session.add(row)
            counts.updated += 1
        counts.changed.add(key[0])
    session.flush()
    return counts
