"""The working-day calendar: the official 2026 schedule, deadlines across weekends,
holidays and make-up working days, other calendar folders, and the arithmetic's laws
over random days (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.runtime import CHINA_STANDARD_TIME, Settings, WorkingCalendar, load_calendar

CALENDAR = load_calendar()
DAYS = st.dates(min_value=date(2024, 12, 1), max_value=date(2027, 2, 1))
COUNTS = st.integers(min_value=-40, max_value=40)


def test_the_shipped_calendar_covers_2025_and_2026() -> None:
    assert {2025, 2026} <= CALENDAR.years
    # 春节 2026: 2月15日至23日 off; Saturdays 2月14日 and 2月28日 worked.
    assert not CALENDAR.is_working_day(date(2026, 2, 16))  # a Monday off
    assert CALENDAR.is_working_day(date(2026, 2, 14))  # a Saturday worked
    assert CALENDAR.is_working_day(date(2026, 2, 28))
    assert not CALENDAR.is_working_day(date(2026, 3, 7))  # an ordinary Saturday
    assert CALENDAR.is_working_day(date(2026, 3, 9))  # an ordinary Monday
    assert not CALENDAR.is_working_day(date(2026, 10, 7))  # 国庆节, a Wednesday
    assert CALENDAR.is_working_day(date(2026, 9, 20))  # a Sunday worked for it


def test_counting_across_a_weekend() -> None:
    friday = date(2026, 3, 6)
    assert CALENDAR.add_working_days(friday, 1) == date(2026, 3, 9)
    assert CALENDAR.add_working_days(friday, 5) == date(2026, 3, 13)
    assert CALENDAR.working_days_between(friday, date(2026, 3, 9)) == 1


def test_counting_across_a_holiday_and_its_make_up_days() -> None:
    # Thursday 2026-02-12: Friday 13th, then Saturday 14th (worked), then the nine days
    # off, then Tuesday 24th.
    thursday = date(2026, 2, 12)
    assert CALENDAR.add_working_days(thursday, 2) == date(2026, 2, 14)
    assert CALENDAR.add_working_days(thursday, 3) == date(2026, 2, 24)
    assert CALENDAR.working_days_between(thursday, date(2026, 2, 24)) == 3
    # 劳动节: 1–5 May off, Saturday 9 May worked.
    assert CALENDAR.add_working_days(date(2026, 4, 30), 1) == date(2026, 5, 6)
    assert CALENDAR.add_working_days(date(2026, 5, 8), 1) == date(2026, 5, 9)
    assert CALENDAR.add_working_days(date(2026, 5, 11), -1) == date(2026, 5, 9)


def test_a_deadline_keeps_the_china_standard_time_of_day() -> None:
    # Thursday 2026-09-24 17:30 CST = 09:30 UTC; five working days skip 中秋节 (25–27
    # September) and 国庆节 (1–7 October): 28, 29, 30 September, 8, 9 October.
    submitted = datetime(2026, 9, 24, 9, 30, tzinfo=UTC)
    due = CALENDAR.deadline(submitted, 5)
    assert due == datetime(2026, 10, 9, 9, 30, tzinfo=UTC)
    # 23:30 UTC on Friday 6 March is already Saturday 7:30 in CST: counted from there.
    late = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)
    assert CALENDAR.deadline(late, 1).astimezone(CHINA_STANDARD_TIME) == datetime(
        2026, 3, 9, 7, 30, tzinfo=CHINA_STANDARD_TIME
    )


def test_a_year_without_a_file_counts_weekends_only() -> None:
    bare = WorkingCalendar()
    assert bare.is_working_day(date(2026, 10, 1))
    assert bare.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 16)


def test_another_calendar_folder_from_the_settings(tmp_path: Path) -> None:
    (tmp_path / "2026.toml").write_text(
        'year = 2026\n[[holidays]]\nname = "厂休"\nfirst = 2026-03-10\nlast = 2026-03-10\n'
        "working = [2026-03-14]\n",
        encoding="utf-8",
    )
    settings = Settings(calendar_dir=tmp_path)
    local = load_calendar(settings.calendar_dir)
    assert local.years == frozenset({2026})
    assert not local.is_working_day(date(2026, 3, 10))
    assert local.is_working_day(date(2026, 3, 14))
    assert local.is_working_day(date(2026, 2, 16))  # the official 春节 is not in it


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("year = 2025\n", "`year` must be 2026"),
        (
            'year = 2026\n[[holidays]]\nname = "x"\nfirst = 2026-03-10\nlast = 2026-03-09\n',
            "ends before it starts",
        ),
        (
            'year = 2026\n[[holidays]]\nname = "x"\nfirst = 2026-03-10\nlast = 2026-03-10\n'
            "working = [2026-03-11]\n",
            "only weekend days",
        ),
        ('year = 2026\n[[holidays]]\nname = "x"\nfirst = "3月10日"\nlast = 2026-03-10\n', "dates"),
    ],
)
def test_a_bad_calendar_file_is_named(tmp_path: Path, text: str, complaint: str) -> None:
    (tmp_path / "2026.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"2026\.toml") as raised:
        load_calendar(tmp_path)
    assert complaint in str(raised.value)


@given(DAYS, COUNTS)
def test_counting_on_then_measuring_gives_the_count(start: date, count: int) -> None:
    end = CALENDAR.add_working_days(start, count)
    assert CALENDAR.working_days_between(start, end) == count
    if count:
        assert CALENDAR.is_working_day(end)
        assert (end > start) == (count > 0)


@given(DAYS, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_counting_on_in_two_steps_is_counting_on_once(start: date, first: int, then: int) -> None:
    halfway = CALENDAR.add_working_days(start, first)
    assert CALENDAR.add_working_days(halfway, then) == CALENDAR.add_working_days(
        start, first + then
    )


@given(DAYS, DAYS)
def test_measuring_counts_the_working_days_stepped_over(a: date, b: date) -> None:
    between = CALENDAR.working_days_between(a, b)
    if b >= a:
        days = [a + timedelta(days=n) for n in range(1, (b - a).days + 1)]
    else:
        days = [b + timedelta(days=n) for n in range((a - b).days)]
    assert abs(between) == sum(CALENDAR.is_working_day(day) for day in days)
    assert (between < 0) <= (b < a)
    if CALENDAR.is_working_day(a) and CALENDAR.is_working_day(b):
        assert CALENDAR.working_days_between(b, a) == -between


@given(DAYS, DAYS)
def test_measuring_then_counting_on_reaches_the_last_working_day(a: date, b: date) -> None:
    reached = CALENDAR.add_working_days(a, CALENDAR.working_days_between(a, b))
    if b >= a:
        assert reached <= b
        assert all(
            not CALENDAR.is_working_day(reached + timedelta(days=n))
            for n in range(1, (b - reached).days + 1)
        )
