"""Row values to well-known proto types and back (servers.runtime.protoconv)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from google.protobuf import timestamp_pb2
from google.type import date_pb2, timeofday_pb2

from servers.runtime import CHINA_STANDARD_TIME
from servers.runtime.protoconv import (
    date_message,
    decimal_message,
    from_date_message,
    from_timestamp,
    time_of_day,
    time_of_day_text,
    timestamp,
)

MOMENTS = [
    datetime(2026, 3, 2, 8, 0, 1, 123456, tzinfo=UTC),
    datetime(2026, 3, 2, 16, 0, tzinfo=CHINA_STANDARD_TIME),
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),  # before the epoch
    datetime(1970, 1, 1, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_timestamp_matches_protobufs_own_conversion(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment.astimezone(UTC))
    assert timestamp(moment) == expected


@pytest.mark.parametrize("moment", MOMENTS)
def test_timestamp_round_trips_to_aware_utc(moment: datetime) -> None:
    message = timestamp(moment)
    assert message is not None
    back = from_timestamp(message)
    assert back == moment
    assert back.tzinfo is UTC


def test_unset_values_stay_unset() -> None:
    assert timestamp(None) is None
    assert date_message(None) is None
    assert decimal_message(None) is None
    assert from_date_message(date_pb2.Date()) is None


def test_date_round_trips() -> None:
    day = date(2024, 2, 29)
    assert date_message(day) == date_pb2.Date(year=2024, month=2, day=29)
    assert from_date_message(date_pb2.Date(year=2024, month=2, day=29)) == day


def test_impossible_date_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        from_date_message(date_pb2.Date(year=2023, month=2, day=29))


def test_decimal_is_written_in_plain_notation() -> None:
    message = decimal_message(Decimal("5.283E-1"))
    assert message is not None
    assert message.value == "0.5283"


def test_time_of_day_round_trips() -> None:
    assert time_of_day("08:30") == timeofday_pb2.TimeOfDay(hours=8, minutes=30)
    assert time_of_day_text(timeofday_pb2.TimeOfDay(hours=8, minutes=5)) == "08:05"
    assert time_of_day_text(time_of_day("23:59")) == "23:59"
