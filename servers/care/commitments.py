"""Due times of feedback from the service commitments in `feedback_commitments.toml`."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from palmgrid.care.v1 import resources_pb2

COMMITMENTS_FILE = Path(__file__).resolve().parent / "feedback_commitments.toml"


@cache
def due_periods(path: Path = COMMITMENTS_FILE) -> dict[str, timedelta]:
    """The time allowed per FeedbackKind name ("COMPLAINT"); every kind has one."""
    hours: dict[str, int] = tomllib.loads(path.read_text(encoding="utf-8"))["due_hours"]
    periods = {kind: timedelta(hours=h) for kind, h in hours.items()}
    kinds = {
        value.name.removeprefix("FEEDBACK_KIND_")
        for value in resources_pb2.FeedbackKind.DESCRIPTOR.values
        if value.number != 0
    }
    if set(periods) != kinds:
        raise ValueError(f"{path.name} must give exactly the kinds {sorted(kinds)}")
    return periods


def due_time(kind: str, submitted: datetime) -> datetime:
    """When feedback of `kind` submitted at `submitted` (UTC) must be resolved by."""
    return submitted + due_periods()[kind]
