"""Calendar months and days in China Standard Time, which bills and tiers follow
(servers.runtime.CHINA_STANDARD_TIME)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time

from servers.runtime import CHINA_STANDARD_TIME

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, such as Month(2024, 5) for "2024-05"."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read "YYYY-MM"; ValueError otherwise."""
        match = _MONTH.match(text)
        if match is None:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime | date) -> Month:
        """The month an instant (read in CST) or a calendar day falls in."""
        if isinstance(moment, datetime):
            moment = moment.astimezone(CHINA_STANDARD_TIME).date()
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> Month:
        return self.plus(1)

    def previous(self) -> Month:
        return self.plus(-1)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        """The instant the month begins (00:00 CST on its first day), as UTC-aware."""
        return start_of_day(self.first_day)

    @property
    def end(self) -> datetime:
        """The instant the month ends (the next month's start)."""
        return self.next().start


def start_of_day(day: date) -> datetime:
    """00:00 CST on `day`, as an aware datetime."""
    return datetime.combine(day, time(0), CHINA_STANDARD_TIME)


def cst_date(moment: datetime) -> date:
    """The calendar day (CST) of an instant."""
    return moment.astimezone(CHINA_STANDARD_TIME).date()


def months_between(first: Month, last: Month) -> list[Month]:
    """`first` … `last`, inclusive; empty when last < first."""
    result = []
    current = first
    while current <= last:
        result.append(current)
        current = current.next()
    return result
