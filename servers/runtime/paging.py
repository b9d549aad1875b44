"""Page tokens (AIP-158): keyset pagination, the one pager of every List method.

A token carries the sort key of the last item returned and a fingerprint of the RPC
that issued it and of the request's filters; a token used with other filters or on
another method is refused, as AIP-158 asks. Resuming after a key rather than at an
offset means an item added or removed meanwhile neither repeats nor skips another.
Tokens are opaque to clients (URL-safe base64 of a small JSON).

The fingerprint is not a secret: a client can build a token that passes it. So every
key value is checked against the types the method declares, and anything a database
would choke on (a NUL, a lone surrogate, an integer beyond 64 bits, NaN) is refused
here, so that a forged token gets INVALID_ARGUMENT on `pageToken`, never INTERNAL.

    after = paging.decode_token(request.page_token, filters, types=(str, str))
    if after is not None:
        query = query.where(paging.descending_after(ORDER, after))
    size = paging.page_size(request.page_size, 50)
    rows = session.exec(query.order_by(*ORDER).limit(size + 1)).all()
    token = paging.next_page_token(rows, size, lambda row: [row.name, row.id], filters)
    rows = rows[:size]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, literal, or_
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from servers.runtime.calls import current_call
from servers.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000

_INT64 = 2**63

Row = TypeVar("Row")


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE) -> int:
    """The page size to use: `default` for 0, capped at MAX_PAGE_SIZE; INVALID_ARGUMENT
    naming `pageSize` when negative (the protos' rules already refuse it; this guards
    methods without them)."""
    if requested < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            field_violations=[FieldViolation("pageSize", "must be 0 or more")],
        )
    return min(default if requested == 0 else requested, MAX_PAGE_SIZE)


def _fingerprint(filters: Sequence[Any]) -> str:
    # The method being served is part of it, so a token of ListBills is not one of
    # ListMonthlyUsage even where their filters and keys look alike.
    call = current_call()
    data = json.dumps([call.method if call else "", *filters], separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def encode_token(after: Sequence[Any], filters: Sequence[Any] = ()) -> str:
    """A token resuming after sort key `after` (JSON-serializable values), bound to the
    method being served and to `filters`."""
    raw = json.dumps({"a": list(after), "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def next_page_token(
    rows: Sequence[Row],
    size: int,
    key: Callable[[Row], Sequence[Any]],
    filters: Sequence[Any] = (),
) -> str:
    """The token of the page after the first `size` of `rows` (fetched with LIMIT
    size + 1, so one more row means another page follows); "" at the end."""
    return encode_token(key(rows[size - 1]), filters) if len(rows) > size else ""


def decode_token(
    token: str, filters: Sequence[Any] = (), *, types: Sequence[type]
) -> list[Any] | None:
    """The sort key in `token`, one value of each of `types` (None for an empty token);
    INVALID_ARGUMENT when it is malformed, was issued for other filters or by another
    method, or holds a key of other types."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, RecursionError) as error:
        raise invalid_token() from error
    if not isinstance(data, dict) or set(data) != {"a", "f"}:
        raise invalid_token()
    after = data["a"]
    if data["f"] != _fingerprint(filters) or not isinstance(after, list):
        raise invalid_token()
    if len(after) != len(types) or not all(map(_is_key_value, after, types)):
        raise invalid_token()
    return after


def _is_key_value(value: object, expected: type) -> bool:
    """Whether `value` is a usable key value of type `expected` (a bool is no int)."""
    if type(value) is not expected:
        return False
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        # PostgreSQL refuses NUL in text; a lone surrogate (JSON "\\ud800") cannot be
        # encoded for any database.
        return "\x00" not in value and _encodes_as_utf8(value)
    return True


def _encodes_as_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_token() -> InvalidArgument:
    """The error for a page token that is not one of this query's."""
    return InvalidArgument(
        "page_token is invalid or belongs to a request with other filters",
        field_violations=[FieldViolation("pageToken", "is not a token of this query")],
    )


def time_key(value: datetime) -> str:
    """A timestamp as it goes into a token (aware UTC, ISO 8601)."""
    return value.isoformat()


def time_from_key(value: str) -> datetime:
    """The timestamp of `time_key` (aware UTC); INVALID_ARGUMENT for anything else."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        # In UTC here: a far offset at the calendar's edge would overflow later.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise invalid_token() from error


def descending_after(
    columns: Sequence[SQLColumnExpression[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """The rows strictly after sort key `values` when ordered by `columns`, all
    descending."""
    return keyset_after(columns, values, descending=True)


def ascending_after(
    columns: Sequence[SQLColumnExpression[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """The rows strictly after sort key `values` when ordered by `columns`, all
    ascending."""
    return keyset_after(columns, values, descending=False)


def keyset_after(
    columns: Sequence[SQLColumnExpression[Any]],
    values: Sequence[Any],
    *,
    descending: bool | Sequence[bool],
) -> ColumnElement[bool]:
    """The rows strictly after sort key `values` when ordered by `columns`, each
    descending or ascending as `descending` says (one flag, or one per column). Written
    out, as row-value comparison is not portable."""
    flags = [descending] * len(columns) if isinstance(descending, bool) else list(descending)
    first = columns[0]
    # A bound literal of the column's own type: SQLAlchemy refuses `<` against a bare
    # True/False, and times must go through the column's UTC conversion. (ORM attributes
    # have `type` at run time, not in their static type.)
    value = literal(values[0], type_=first.type)  # type: ignore[attr-defined]
    beyond = first < value if flags[0] else first > value
    if len(columns) == 1:
        return beyond
    rest = keyset_after(columns[1:], values[1:], descending=flags[1:])
    return or_(beyond, and_(first == value, rest))
