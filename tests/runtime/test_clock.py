"""The one clock: the wall clock by default, a settable one in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servers.runtime import CHINA_STANDARD_TIME, SYSTEM_CLOCK, SettableClock

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_system_clock_tells_aware_utc_time() -> None:
    before = datetime.now(UTC)
    now = SYSTEM_CLOCK.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_settable_clock_stands_still_until_moved() -> None:
    clock = SettableClock(START)
    assert clock.now() == clock.now() == START
    assert clock.advance(timedelta(minutes=5)) == START + timedelta(minutes=5)
    assert clock.now() == START + timedelta(minutes=5)
    clock.set(START)
    assert clock.now() == START


def test_settable_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SettableClock(datetime(2026, 3, 2, 8, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        SettableClock(START).set(datetime(2026, 3, 2, 8, 0))


def test_china_standard_time_is_utc_plus_eight_all_year() -> None:
    winter = datetime(2026, 1, 15, 16, 0, tzinfo=UTC).astimezone(CHINA_STANDARD_TIME)
    summer = datetime(2026, 7, 15, 16, 0, tzinfo=UTC).astimezone(CHINA_STANDARD_TIME)
    assert (winter.day, winter.hour) == (16, 0)  # 16:00 UTC is midnight in Beijing
    assert (summer.day, summer.hour) == (16, 0)  # and stays so: no daylight saving
    assert winter.tzname() == "CST"
