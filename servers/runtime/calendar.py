"""The working-day calendar: which days are working days in mainland China, and
deadlines counted in working days.

A day is a working day when it is Monday to Friday and not a public holiday, or when it
is a weekend day the State Council made a working day in exchange for a holiday (调休).
The holidays and the exchanged days are data, one TOML file per year
(`servers/runtime/calendars/<year>.toml`, each naming its source); `PALMGRID_CALENDAR_DIR`
points at another folder of such files. A year without a file counts weekends only.
Days are calendar days in China Standard Time.

    calendar = load_calendar()                      # or load_calendar(settings.calendar_dir)
    calendar.is_working_day(date(2026, 2, 14))      # True: a Saturday worked for 春节
    calendar.add_working_days(date(2026, 2, 13), 1) # date(2026, 2, 14)
    calendar.working_days_between(a, b)             # working days after a up to b
    calendar.deadline(submitted, 5)                 # the same CST time, 5 working days on
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from servers.runtime.timezones import CHINA_STANDARD_TIME

CALENDARS_DIR = Path(__file__).resolve().parent / "calendars"
_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekends, public holidays (`holidays`) and weekend days worked in exchange
    (`working_weekend_days`); `years` are the years the data covers."""

    holidays: frozenset[date] = frozenset()
    working_weekend_days: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        """Whether `day` (a CST calendar day) is a working day."""
        if day in self.working_weekend_days:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The day `count` working days after `start` (`start` itself not counted);
        a negative `count` counts back; 0 gives `start`."""
        step = _DAY if count >= 0 else -_DAY
        day = start
        for _ in range(abs(count)):
            day += step
            while not self.is_working_day(day):
                day += step
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days `add_working_days` steps over from `start` to `end`:
        those after `start` up to and including `end`; when `end` is before `start`,
        minus those from `end` up to but excluding `start`. So
        `working_days_between(d, add_working_days(d, n)) == n` for every n."""
        if end < start:
            return -sum(1 for n in range((start - end).days) if self.is_working_day(end + n * _DAY))
        return sum(
            1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + n * _DAY)
        )

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The instant `working_days` working days after the aware instant `start`: the
        same China Standard Time of day on the day `add_working_days` gives, in `start`'s
        time zone. A start on a non-working day counts from that day, so a Saturday and
        the Friday before it reach the same day."""
        local = start.astimezone(CHINA_STANDARD_TIME)
        day = self.add_working_days(local.date(), working_days)
        return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def _dates(values: Iterable[object], path: Path, what: str) -> list[date]:
    found = list(values)
    if not all(isinstance(value, date) and not isinstance(value, datetime) for value in found):
        raise ValueError(f"{path.name}: {what} must be TOML dates (2026-02-14)")
    return found  # type: ignore[return-value]


def _read_year(path: Path) -> tuple[int, set[date], set[date]]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    year = document.get("year")
    if not isinstance(year, int) or path.stem != str(year):
        raise ValueError(f"{path.name}: `year` must be {path.stem}")
    holidays: set[date] = set()
    working: set[date] = set()
    for entry in document.get("holidays", []):
        first, last = _dates((entry.get("first"), entry.get("last")), path, "first and last")
        if last < first:
            raise ValueError(f"{path.name}: {entry.get('name')} ends before it starts")
        holidays.update(first + n * _DAY for n in range((last - first).days + 1))
        working.update(_dates(entry.get("working", []), path, "working days"))
    if not holidays.isdisjoint(working):
        raise ValueError(f"{path.name}: a day is both a holiday and a working day")
    if any(day.weekday() < _SATURDAY for day in working):
        raise ValueError(f"{path.name}: only weekend days can be working days in exchange")
    return year, holidays, working


@cache
def load_calendar(directory: Path | None = None) -> WorkingCalendar:
    """The calendar of the `<year>.toml` files in `directory` (default: the official
    schedules shipped in `servers/runtime/calendars/`); ValueError names a bad file."""
    folder = directory or CALENDARS_DIR
    holidays: set[date] = set()
    working: set[date] = set()
    years: set[int] = set()
    for path in sorted(folder.glob("*.toml")):
        year, days_off, days_on = _read_year(path)
        years.add(year)
        holidays |= days_off
        working |= days_on
    return WorkingCalendar(frozenset(holidays), frozenset(working), frozenset(years))
