"""Text forms of the well-known types in proto3 JSON, and of scalars that need care.

Timestamps are RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits; durations are
seconds with an `s` suffix and the same fractional rule; field masks are comma-separated
lowerCamelCase paths; bytes are base64. These match `google.protobuf.json_format`
exactly (the test suite checks it on random values) but are written for speed: a
timestamp is formatted from a per-day cache instead of through `datetime`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime
import math
import re
import struct

__all__ = [
    "WktError",
    "camel_to_snake",
    "decode_bytes",
    "encode_bytes",
    "format_duration",
    "format_field_mask",
    "format_timestamp",
    "parse_duration",
    "parse_field_mask",
    "parse_timestamp",
    "shortest_float32",
    "snake_to_camel",
]

TIMESTAMP_MIN = -62135596800  # 0001-01-01T00:00:00Z
TIMESTAMP_MAX = 253402300799  # 9999-12-31T23:59:59Z
DURATION_MAX = 315576000000  # 10,000 years

_ORDINAL_1970 = datetime.date(1970, 1, 1).toordinal()
_DAY_CACHE: dict[int, str] = {}
_DAY_CACHE_LIMIT = 8192

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})\Z"
)
_DURATION = re.compile(r"(-)?(\d+)(?:\.(\d{1,9}))?s\Z")
_URLSAFE = bytes.maketrans(b"-_", b"+/")


class WktError(ValueError):
    """A value that is not in the JSON form of its well-known type."""


def format_timestamp(seconds: int, nanos: int) -> str:
    if not (TIMESTAMP_MIN <= seconds <= TIMESTAMP_MAX and 0 <= nanos <= 999_999_999):
        raise WktError(f"timestamp out of range: {seconds}s {nanos}ns")
    days, rem = divmod(seconds, 86400)
    date = _DAY_CACHE.get(days)
    if date is None:
        if len(_DAY_CACHE) >= _DAY_CACHE_LIMIT:
            _DAY_CACHE.clear()
        date = datetime.date.fromordinal(_ORDINAL_1970 + days).isoformat() + "T"
        _DAY_CACHE[days] = date
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{date}{hours:02d}:{minutes:02d}:{secs:02d}{_fraction(nanos)}Z"


def parse_timestamp(text: object) -> tuple[int, int]:
    if not isinstance(text, str):
        raise WktError("expected an RFC 3339 timestamp string")
    m = _TIMESTAMP.match(text)
    if m is None:
        raise WktError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise WktError(f"not a valid date and time: {text!r}") from exc
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        seconds += sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((m.group(7) or "").ljust(9, "0"))
    if not TIMESTAMP_MIN <= seconds <= TIMESTAMP_MAX:
        raise WktError(f"timestamp out of range: {text!r}")
    return seconds, nanos


def format_duration(seconds: int, nanos: int) -> str:
    if (
        not -DURATION_MAX <= seconds <= DURATION_MAX
        or not -999_999_999 <= nanos <= 999_999_999
        or (seconds < 0 < nanos)
        or (nanos < 0 < seconds)
    ):
        raise WktError(f"duration out of range: {seconds}s {nanos}ns")
    sign = "-" if seconds < 0 or nanos < 0 else ""
    return f"{sign}{abs(seconds)}{_fraction(abs(nanos))}s"


def parse_duration(text: object) -> tuple[int, int]:
    if not isinstance(text, str):
        raise WktError('expected a duration string such as "1.5s"')
    m = _DURATION.match(text)
    if m is None:
        raise WktError(f"not a duration: {text!r}")
    seconds = int(m.group(2))
    nanos = int((m.group(3) or "").ljust(9, "0"))
    if seconds > DURATION_MAX:
        raise WktError(f"duration out of range: {text!r}")
    if m.group(1):
        seconds, nanos = -seconds, -nanos
    return seconds, nanos


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def snake_to_camel(path: str) -> str:
    """`update_time` → `updateTime`; raises for names JSON cannot round-trip."""
    out = []
    upper = False
    for ch in path:
        if ch == "_":
            if upper:
                raise WktError(f"field mask path {path!r} cannot be written in JSON")
            upper = True
        elif upper:
            if not ch.islower():
                raise WktError(f"field mask path {path!r} cannot be written in JSON")
            out.append(ch.upper())
            upper = False
        elif ch.isupper():
            raise WktError(f"field mask path {path!r} cannot be written in JSON")
        else:
            out.append(ch)
    if upper:
        raise WktError(f"field mask path {path!r} cannot be written in JSON")
    return "".join(out)


def camel_to_snake(path: str) -> str:
    """`updateTime` → `update_time`; a path already in snake_case is kept as it is."""
    if "_" in path:
        return path
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in path)


def format_field_mask(paths: list[str]) -> str:
    return ",".join(snake_to_camel(p) for p in paths)


def parse_field_mask(text: object) -> list[str]:
    if not isinstance(text, str):
        raise WktError('expected a field mask string such as "displayName,address.city"')
    return [camel_to_snake(p) for p in text.split(",")] if text else []


def encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def decode_bytes(text: object) -> bytes:
    """Standard or URL-safe base64, padded or not (what proto3 JSON parsers accept)."""
    if not isinstance(text, str):
        raise WktError("expected a base64 string")
    raw = text.encode("ascii", "replace").translate(_URLSAFE)
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise WktError("not valid base64") from exc


def _truncate_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def shortest_float32(value: float) -> float | str:
    """A float field's value as JSON: the shortest decimal that reads back the same."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    precision = 6
    rounded = float(f"{value:.{precision}g}")
    while _truncate_float32(rounded) != value:
        precision += 1
        rounded = float(f"{value:.{precision}g}")
    return rounded
