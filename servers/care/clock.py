"""The care service's clock, injectable so that tests can fix and move time.

Publish times, update times and feedback due times all read it. A clock is any callable
returning an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)
