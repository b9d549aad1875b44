"""Quiet hours: no SMS or push between two local times (China Standard Time), except
for urgent messages. A delivery that falls due inside them waits for their end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from servers.runtime import CHINA_STANDARD_TIME

# The channels quiet hours hold back; the in-app inbox is silent and always delivered.
AUDIBLE_CHANNELS = frozenset({"SMS", "PUSH"})


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end`, local time; the window may wrap midnight (22:00–07:00).
    Equal times mean no quiet hours."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        """From "HH:MM" texts."""
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, instant: datetime) -> bool:
        """Whether the aware `instant` lies inside quiet hours."""
        if self.start == self.end:
            return False
        local = instant.astimezone(CHINA_STANDARD_TIME).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, instant: datetime) -> datetime:
        """`instant` itself outside quiet hours, else the moment they end (UTC)."""
        if not self.contains(instant):
            return instant
        local = instant.astimezone(CHINA_STANDARD_TIME)
        opening = datetime.combine(local.date(), self.end, CHINA_STANDARD_TIME)
        if opening <= local:
            opening += timedelta(days=1)
        return opening.astimezone(instant.tzinfo)

    def applies(self, channel: str, *, urgent: bool) -> bool:
        """Whether quiet hours hold back a delivery on `channel`."""
        return channel in AUDIBLE_CHANNELS and not urgent
