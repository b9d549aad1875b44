"""The clock every service reads the current time from, injectable so tests can move time.

Services take a `Clock` (default `SYSTEM_CLOCK`) and call `clock.now()` wherever a
business rule depends on the current time: session and captcha expiry, lockouts, bill
due dates and late fees, payment expiry, publish and feedback due times. Tests pass a
`SettableClock` and move it with `advance()` or `set()`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# The one wall clock: the default wherever a clock may be injected.
SYSTEM_CLOCK = SystemClock()


class SettableClock:
    """A clock that stands still until moved: for tests of time-dependent rules."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta`; returns the new time."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        """Put the clock at `moment` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        with self._lock:
            self._now = moment
