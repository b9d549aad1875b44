"""The time zone PalmGrid's calendar follows: China Standard Time.

Bill months, due dates, tier periods, the payment provider's days and the care demo's
dates are all reckoned in it. China has kept UTC+8 without daylight saving since 1991,
so a fixed offset is exact and needs no time-zone database (ZoneInfo would need tzdata
on every host and answer the same). The account service's `time_zone` system parameter,
which only formats messages for people, stays a configurable ZoneInfo.
"""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
