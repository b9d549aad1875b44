"""Page tokens (AIP-158): opaque to clients, an offset into the ordered result for us,
bound to the request's filters so a token cannot be replayed with other filters."""

from __future__ import annotations

import base64
import hashlib
import json

from servers.runtime import FieldViolation, InvalidArgument


def _fingerprint(filters: object) -> str:
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:12]


def decode(token: str, filters: object = None) -> int:
    """The offset a page token stands for (0 for none); INVALID_ARGUMENT when forged or
    made for other filters."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        offset = int(data["o"])
        valid = offset >= 0 and data.get("f") == _fingerprint(filters)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise InvalidArgument(
            "invalid page token",
            field_violations=[FieldViolation("pageToken", "is not a token of this query")],
        )
    return offset


def encode(offset: int, filters: object = None) -> str:
    raw = json.dumps({"o": offset, "f": _fingerprint(filters)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_size(requested: int, default: int) -> int:
    return requested or default


def next_token(offset: int, size: int, fetched: int, filters: object = None) -> str:
    """The token of the next page when `fetched` (size + 1 asked) shows one exists."""
    return encode(offset + size, filters) if fetched > size else ""
