"""Server-assigned resource ids."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new resource id: 16 lower-case hex digits, matching `[a-z0-9][a-z0-9-]{0,62}`."""
    return uuid.uuid4().hex[:16]
