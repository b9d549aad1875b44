"""Ids of payments and refunds: time-ordered, 26 characters of digits and lower-case hex,
valid both as resource ids and as the provider's `out_trade_no` / `out_refund_no`."""

from __future__ import annotations

import secrets
from datetime import datetime


def new_id(now: datetime) -> str:
    """A new id: the UTC time to the second, then 48 random bits."""
    return now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)
