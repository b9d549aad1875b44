"""Page tokens (AIP-158): keyset pagination.

A token carries the sort key of the last item returned and a fingerprint of the
request's filters; a token used with other filters is refused (INVALID_ARGUMENT), as
AIP-158 asks. Resuming after a key rather than at an offset means an item added or
removed meanwhile neither repeats nor skips another. Tokens are opaque to clients
(URL-safe base64 of a small JSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from servers.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE) -> int:
    """The page size to use: `default` for 0, capped at MAX_PAGE_SIZE."""
    return default if requested <= 0 else min(requested, MAX_PAGE_SIZE)


def _fingerprint(filters: Sequence[Any]) -> str:
    data = json.dumps(list(filters), separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def encode_token(after: Sequence[Any], filters: Sequence[Any] = ()) -> str:
    """A token resuming after sort key `after` (JSON-serializable values)."""
    raw = json.dumps({"a": list(after), "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(
    token: str, filters: Sequence[Any] = (), *, types: Sequence[type]
) -> list[Any] | None:
    """The sort key in `token`, one value of each of `types` (None for an empty token);
    INVALID_ARGUMENT when it is malformed or was issued for other filters."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["a"]
        if data["f"] != _fingerprint(filters) or not isinstance(after, list):
            raise ValueError("not a token of this query")
        if len(after) != len(types) or not all(map(isinstance, after, types)):
            raise ValueError("not a sort key of this query")
        return after
    except (ValueError, KeyError, TypeError) as error:
        raise invalid_token() from error


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
    """The timestamp of `time_key`; INVALID_ARGUMENT for anything else."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise invalid_token() from error
    if moment.tzinfo is None:
        raise invalid_token()
    return moment


def descending_after(
    columns: Sequence[ColumnElement[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """The rows strictly after sort key `values` when ordered by `columns`, all
    descending (written out, as row-value comparison is not portable)."""
    first = columns[0]
    # A bound literal of the column's own type: SQLAlchemy refuses `<` against a bare
    # True/False, and times must go through the column's UTC conversion.
    value = literal(values[0], type_=first.type)
    if len(columns) == 1:
        return first < value
    return or_(first < value, and_(first == value, descending_after(columns[1:], values[1:])))
