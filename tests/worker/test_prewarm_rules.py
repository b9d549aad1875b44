"""The pre-warm's rules without a running system: its window in China Standard Time,
how long its entries stay fresh, and the token bucket that paces it."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from servers.worker.prewarm import HOT_READS, entry_ttl, in_window
from servers.worker.prewarm_config import PrewarmConfig
from servers.worker.token_bucket import TokenBucket


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [(utc(17, 59), False), (utc(18), True), (utc(21, 59), True), (utc(22), False)],
)
def test_the_window_is_china_standard_time(moment: datetime, inside: bool) -> None:
    # 02:00-06:00 CST is 18:00-22:00 UTC the day before.
    assert in_window(moment, time(2), time(6)) is inside


def test_a_window_may_span_midnight() -> None:
    assert in_window(utc(15, 30), time(23), time(5))  # 23:30 CST
    assert in_window(utc(20), time(23), time(5))  # 04:00 CST
    assert not in_window(utc(22), time(23), time(5))  # 06:00 CST


def test_entries_stay_fresh_until_the_morning_but_never_past_midnight() -> None:
    plan = HOT_READS[0].plan  # GetBalance, TTL 60 s
    config = PrewarmConfig(prewarm_entry_ttl_seconds=6 * 3600)
    assert entry_ttl(plan, config, utc(19)) == 6 * 3600  # 03:00 CST
    assert entry_ttl(plan, config, utc(14)) == 2 * 3600  # 22:00 CST: until midnight
    bills = HOT_READS[2].plan  # ListBills, TTL 600 s
    assert entry_ttl(bills, config, utc(15, 59)) == 600  # 23:59 CST: the method's TTL
    assert entry_ttl(plan, PrewarmConfig(prewarm_entry_ttl_seconds=1), utc(19)) == plan.ttl


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_holds_calls_to_its_rate_after_the_burst() -> None:
    fake = FakeTime()
    bucket = TokenBucket(4.0, burst=2, monotonic=lambda: fake.now, sleep=fake.sleep)
    taken = []
    for _ in range(10):
        bucket.take()
        taken.append(fake.now)
    assert taken[:2] == [0.0, 0.0]
    assert taken[-1] == pytest.approx(2.0)  # 8 more tokens at 4 per second
    for window_start in taken:
        inside = [t for t in taken if window_start <= t < window_start + 1.0]
        assert len(inside) <= 2 + 4


def test_settings_are_read_from_the_worker_prefix() -> None:
    config = PrewarmConfig.load(
        {
            "PALMGRID_WORKER_PREWARM_WINDOW_START": "23:30",
            "PALMGRID_WORKER_PREWARM_QUERIES_PER_SECOND": "50",
        }
    )
    assert config.prewarm_window_start == time(23, 30)
    assert config.prewarm_queries_per_second == 50
