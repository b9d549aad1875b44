"""Page tokens for the billing lists (AIP-158): keyset pagination.

A token carries the sort key of the last item returned and a fingerprint of the
request's filters; a token used with other filters is refused (INVALID_ARGUMENT), as
AIP-158 asks. Tokens are opaque to clients (URL-safe base64 of a small JSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from servers.runtime import FieldViolation, InvalidArgument


def page_size(requested: int, default: int, maximum: int = 1000) -> int:
    """The page size to use: `default` for 0, capped at `maximum`."""
    return default if requested <= 0 else min(requested, maximum)


def _fingerprint(filters: Sequence[Any]) -> str:
    data = json.dumps(list(filters), separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def encode_token(after: Any, filters: Sequence[Any] = ()) -> str:
    """A token resuming after sort key `after` (JSON-serializable)."""
    raw = json.dumps({"a": after, "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, filters: Sequence[Any] = ()) -> Any:
    """The sort key in `token` (None for an empty token); INVALID_ARGUMENT when the
    token is malformed or was issued for other filters."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["f"] != _fingerprint(filters):
            raise ValueError("filters changed")
        return data["a"]
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidArgument(
            "page_token is invalid or belongs to a request with other filters",
            field_violations=[FieldViolation("pageToken", "invalid page token")],
        ) from error
