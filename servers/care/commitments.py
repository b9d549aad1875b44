"""Due times of feedback from the service commitments in `feedback_commitments.toml`:
a number of hours round the clock, or of working days on the runtime's calendar."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from palmgrid.care.v1 import resources_pb2
from servers.runtime import WorkingCalendar

COMMITMENTS_FILE = Path(__file__).resolve().parent / "feedback_commitments.toml"


@dataclass(frozen=True)
class Commitment:
    """The time allowed for one kind: `hours` round the clock, or `working_days`."""

    hours: int | None = None
    working_days: int | None = None

    def due(self, submitted: datetime, calendar: WorkingCalendar) -> datetime:
        """When feedback submitted at `submitted` (aware) must be resolved by."""
        if self.working_days is not None:
            return calendar.deadline(submitted, self.working_days)
        assert self.hours is not None
        return submitted + timedelta(hours=self.hours)


@cache
def commitments(path: Path = COMMITMENTS_FILE) -> dict[str, Commitment]:
    """The commitment per FeedbackKind name ("COMPLAINT"); every kind has exactly one."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    hours: dict[str, int] = document.get("due_hours", {})
    working: dict[str, int] = document.get("due_working_days", {})
    kinds = {
        value.name.removeprefix("FEEDBACK_KIND_")
        for value in resources_pb2.FeedbackKind.DESCRIPTOR.values
        if value.number != 0
    }
    if set(hours) & set(working) or set(hours) | set(working) != kinds:
        raise ValueError(f"{path.name} must give each of the kinds {sorted(kinds)} once")
    return {
        **{kind: Commitment(hours=h) for kind, h in hours.items()},
        **{kind: Commitment(working_days=d) for kind, d in working.items()},
    }


def due_time(kind: str, submitted: datetime, calendar: WorkingCalendar) -> datetime:
    """When feedback of `kind` submitted at `submitted` (aware UTC) must be resolved by."""
    return commitments()[kind].due(submitted, calendar)
