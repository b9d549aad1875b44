"""Small conversions between Python values and the well-known proto types."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp of an aware datetime; None stays None (the field stays unset)."""
    if moment is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment.astimezone(UTC))
    return message
