"""When a job runs: every interval, daily at a time of day, or monthly on a day at a
time of day. Times of day are China Standard Time (UTC+8 all year, no daylight saving,
so every day has 24 hours and each local time happens exactly once).

Schedules are written as text, in code and in `PALMGRID_WORKER_SCHEDULES`:

    every 30s | every 5m | every 2h        an interval, from the end of the last run
    daily 01:30                            each day at 01:30 CST
    monthly 1 02:00                        day 1 of each month at 02:00 CST; a day the
                                           month lacks (31 in April) means its last day
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from servers.runtime import CHINA_STANDARD_TIME

_UNITS = {"s": 1, "m": 60, "h": 3600}
_EVERY = re.compile(r"^every ([1-9][0-9]*)([smh])$")
_DAILY = re.compile(r"^daily ([01][0-9]|2[0-3]):([0-5][0-9])$")
_MONTHLY = re.compile(r"^monthly ([1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):([0-5][0-9])$")


class Schedule(Protocol):
    """A job's schedule: its text form and its next run after a moment."""

    @property
    def text(self) -> str: ...

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after `moment` (aware; the answer is aware UTC)."""
        ...

    def first_run(self, now: datetime) -> datetime:
        """When a job never run before runs first."""
        ...


@dataclass(frozen=True)
class Every:
    """Every `interval`, counted from the end of the previous run; a new job runs at once."""

    interval: timedelta

    @property
    def text(self) -> str:
        seconds = int(self.interval.total_seconds())
        for unit, size in (("h", 3600), ("m", 60)):
            if seconds % size == 0:
                return f"every {seconds // size}{unit}"
        return f"every {seconds}s"

    def next_after(self, moment: datetime) -> datetime:
        return (moment + self.interval).astimezone(UTC)

    def first_run(self, now: datetime) -> datetime:
        return now


@dataclass(frozen=True)
class DailyAt:
    """Each day at `at` (CST)."""

    at: time

    @property
    def text(self) -> str:
        return f"daily {self.at:%H:%M}"

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(CHINA_STANDARD_TIME)
        candidate = _at(local.date(), self.at)
        if candidate <= moment:
            candidate = _at(local.date() + timedelta(days=1), self.at)
        return candidate

    def first_run(self, now: datetime) -> datetime:
        return self.next_after(now)


@dataclass(frozen=True)
class MonthlyOn:
    """Each month on `day` (its last day when shorter) at `at` (CST)."""

    day: int
    at: time

    @property
    def text(self) -> str:
        return f"monthly {self.day} {self.at:%H:%M}"

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(CHINA_STANDARD_TIME)
        year, month = local.year, local.month
        while True:
            candidate = _at(_day_in(year, month, self.day), self.at)
            if candidate > moment:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def first_run(self, now: datetime) -> datetime:
        return self.next_after(now)


def parse_schedule(text: str) -> Schedule:
    """The schedule written as `text` (see the module docstring); ValueError otherwise."""
    words = " ".join(text.split()).lower()
    if match := _EVERY.match(words):
        return Every(timedelta(seconds=int(match[1]) * _UNITS[match[2]]))
    if match := _DAILY.match(words):
        return DailyAt(time(int(match[1]), int(match[2])))
    if match := _MONTHLY.match(words):
        return MonthlyOn(int(match[1]), time(int(match[2]), int(match[3])))
    raise ValueError(
        f"schedule {text!r}: expected 'every <n>s|m|h', 'daily HH:MM' or 'monthly <day> HH:MM'"
    )


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, CHINA_STANDARD_TIME).astimezone(UTC)


def _day_in(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))
