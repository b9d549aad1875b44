"""Next runs: intervals from the end of the last run, daily and monthly times in China
Standard Time (UTC+8 every day of the year), schedules as text."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from servers.runtime import CHINA_STANDARD_TIME
from servers.worker.schedule import DailyAt, Every, MonthlyOn, parse_schedule


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_STANDARD_TIME)  # type: ignore[misc]


def test_an_interval_runs_at_once_then_counts_from_the_end_of_each_run() -> None:
    schedule = parse_schedule("every 10s")
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert schedule.first_run(now) == now
    assert schedule.next_after(now) == now + timedelta(seconds=10)
    assert parse_schedule("every 5m") == Every(timedelta(minutes=5))
    assert parse_schedule("every 2h").text == "every 2h"
    assert parse_schedule("every 90s").text == "every 90s"


def test_daily_runs_at_the_local_time_later_the_same_day() -> None:
    schedule = parse_schedule("daily 01:30")
    assert schedule == DailyAt(time(1, 30))
    assert schedule.next_after(cst(2026, 3, 1, 0, 10)) == cst(2026, 3, 1, 1, 30)


def test_daily_goes_to_the_next_day_once_the_time_has_passed_or_is_now() -> None:
    schedule = parse_schedule("daily 01:30")
    assert schedule.next_after(cst(2026, 3, 1, 1, 30)) == cst(2026, 3, 2, 1, 30)
    assert schedule.next_after(cst(2026, 3, 1, 23, 59)) == cst(2026, 3, 2, 1, 30)


def test_daily_reckons_the_day_in_china_standard_time_not_utc() -> None:
    # 17:00 UTC on 1 March is already 01:00 on 2 March in CST: today's 01:30 CST is
    # half an hour away, not a day.
    schedule = parse_schedule("daily 01:30")
    moment = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert schedule.next_after(moment) == datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
    assert schedule.next_after(moment).tzinfo == UTC


def test_daily_runs_are_always_24_hours_apart_all_year() -> None:
    # No daylight saving in CST: across the dates other zones shift, the gap stays 24 h.
    schedule = parse_schedule("daily 02:30")
    moment = cst(2026, 1, 1)
    for _ in range(366):
        following = schedule.next_after(moment)
        if moment.astimezone(CHINA_STANDARD_TIME).time() == time(2, 30):
            assert following - moment == timedelta(hours=24)
        moment = following


def test_monthly_runs_on_the_day_this_month_or_next() -> None:
    schedule = parse_schedule("monthly 1 02:00")
    assert schedule == MonthlyOn(1, time(2, 0))
    assert schedule.next_after(cst(2026, 3, 1, 1, 0)) == cst(2026, 3, 1, 2, 0)
    assert schedule.next_after(cst(2026, 3, 1, 2, 0)) == cst(2026, 4, 1, 2, 0)
    assert schedule.next_after(cst(2026, 12, 15)) == cst(2027, 1, 1, 2, 0)


def test_monthly_on_a_day_the_month_lacks_runs_on_its_last_day() -> None:
    schedule = parse_schedule("monthly 31 23:00")
    assert schedule.next_after(cst(2024, 2, 1)) == cst(2024, 2, 29, 23, 0)
    assert schedule.next_after(cst(2024, 2, 29, 23, 0)) == cst(2024, 3, 31, 23, 0)
    assert schedule.next_after(cst(2026, 4, 1)) == cst(2026, 4, 30, 23, 0)


def test_monthly_reckons_the_month_in_china_standard_time() -> None:
    # 20:00 UTC on 31 January is 04:00 on 1 February in CST: February's run is next.
    schedule = parse_schedule("monthly 1 02:00")
    moment = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    assert schedule.next_after(moment) == cst(2026, 3, 1, 2, 0)
    assert schedule.next_after(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == cst(2026, 2, 1, 2, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "every 0s",
        "every 5d",
        "daily 24:00",
        "daily 1:30",
        "monthly 0 02:00",
        "monthly 32 02:00",
        "weekly",
    ],
)
def test_a_schedule_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        parse_schedule(text)


def test_schedules_read_back_from_their_text() -> None:
    for text in ("every 10s", "every 15m", "daily 00:30", "monthly 1 02:00"):
        assert parse_schedule(text).text == text
    assert parse_schedule("  Daily   06:00 ").text == "daily 06:00"
