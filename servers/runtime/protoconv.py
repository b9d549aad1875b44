"""Conversions between row values and the well-known proto types that every service
shares: Timestamp, google.type.Date, Decimal and TimeOfDay. Conversions of a service's
own messages stay in that service."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from google.protobuf import timestamp_pb2
from google.type import date_pb2, decimal_pb2, timeofday_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp of an aware datetime (any zone); None stays None (the field stays
    unset)."""
    if moment is None:
        return None
    # Direct arithmetic: about 0.46 µs a call against 1.6 µs for Timestamp.FromDatetime
    # (timeit, CPython 3.11), and the hot reads convert dozens of times per response.
    delta = moment - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def from_timestamp(message: timestamp_pb2.Timestamp) -> datetime:
    """An aware UTC datetime."""
    return message.ToDatetime(tzinfo=UTC)


def date_message(day: date | None) -> date_pb2.Date | None:
    """A google.type.Date of a calendar day; None stays None."""
    if day is None:
        return None
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def from_date_message(message: date_pb2.Date) -> date | None:
    """The date, or None for an unset (all-zero) Date; ValueError for an impossible one."""
    if message.year == 0 and message.month == 0 and message.day == 0:
        return None
    return date(message.year, message.month, message.day)


def decimal_message(value: Decimal | None) -> decimal_pb2.Decimal | None:
    """A google.type.Decimal in plain notation ("0.5283", never "5.283E-1"); None stays None."""
    if value is None:
        return None
    return decimal_pb2.Decimal(value=format(value, "f"))


def time_of_day(text: str) -> timeofday_pb2.TimeOfDay:
    """A google.type.TimeOfDay of a stored "HH:MM"."""
    hours, minutes = text.split(":")
    return timeofday_pb2.TimeOfDay(hours=int(hours), minutes=int(minutes))


def time_of_day_text(message: timeofday_pb2.TimeOfDay) -> str:
    """The stored "HH:MM" of a google.type.TimeOfDay (seconds and nanos dropped)."""
    return f"{message.hours:02d}:{message.minutes:02d}"
