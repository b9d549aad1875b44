"""Small conversions between Python values and the well-known proto types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from google.protobuf import timestamp_pb2
from google.type import date_pb2, decimal_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp of an aware datetime; None stays None (the field stays unset)."""
    if moment is None:
        return None
    # Direct arithmetic: Timestamp.FromDatetime is several times slower, and the hot
    # reads convert dozens of times per response.
    delta = moment - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def from_timestamp(message: timestamp_pb2.Timestamp) -> datetime:
    """An aware UTC datetime."""
    return message.ToDatetime(tzinfo=UTC)


def date_message(day: date | None) -> date_pb2.Date | None:
    if day is None:
        return None
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def from_date_message(message: date_pb2.Date) -> date | None:
    """The date, or None for an unset (all-zero) Date; ValueError for an impossible one."""
    if message.year == 0 and message.month == 0 and message.day == 0:
        return None
    return date(message.year, message.month, message.day)


def decimal_message(value: Decimal | None) -> decimal_pb2.Decimal | None:
    if value is None:
        return None
    return decimal_pb2.Decimal(value=format(value, "f"))
