"""The rules an announcement or a change of an outage must keep, as pure functions of the
outage's values, the time now and the notice period. Each refusal names the field, in
the request's lowerCamelCase path (`outage.startTime`).

- A planned outage starts at least the notice period after now, unless it is urgent
  with a reason; moving a scheduled one later never needs notice, moving it earlier does.
- An unplanned outage has started: its start is not in the future.
- A planned outage has an end; an unplanned one has an estimated restoration instead.
- The end and the estimated restoration come after the start.
- An outage that has started keeps its start.
- Urgent needs its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from servers.outage.models import OutageKind, OutageState
from servers.runtime import FailedPrecondition, FieldViolation, InvalidArgument

# How far in the future an unplanned outage's start may be (clock skew between hosts).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Plan:
    """The values of an outage the rules look at."""

    kind: str
    start_time: datetime
    end_time: datetime | None
    estimated_restore_time: datetime | None
    urgent: bool
    urgent_reason: str


def _refuse(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid outage: {field}: {description}",
        field_violations=[FieldViolation(f"outage.{field}", description)],
    )


def _days(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g} days" if days >= 1 else f"{period.total_seconds():g} seconds"


def check_plan(plan: Plan, now: datetime, notice: timedelta, *, earliest: datetime | None) -> None:
    """Raise InvalidArgument naming the field when `plan` breaks a rule. `earliest` is
    the start a scheduled outage had before a change (None when announcing): a start no
    earlier than that needs no notice."""
    if plan.urgent and not plan.urgent_reason.strip():
        raise _refuse("urgentReason", "an urgent outage needs its reason")
    if plan.kind == OutageKind.PLANNED:
        if plan.end_time is None:
            raise _refuse("endTime", "a planned outage needs its end_time")
        if plan.estimated_restore_time is not None:
            raise _refuse(
                "estimatedRestoreTime", "a planned outage has an end_time, not an estimate"
            )
        moved_earlier = earliest is None or plan.start_time < earliest
        if moved_earlier and not plan.urgent and plan.start_time < now + notice:
            raise _refuse(
                "startTime",
                f"a planned outage must be announced at least {_days(notice)} before it "
                "starts, unless it is urgent with a reason",
            )
    else:
        if plan.end_time is not None:
            raise _refuse("endTime", "an unplanned outage has an estimated_restore_time instead")
        if plan.start_time > now + CLOCK_SKEW:
            raise _refuse("startTime", "an unplanned outage has started already")
    if plan.end_time is not None and plan.end_time <= plan.start_time:
        raise _refuse("endTime", "end_time must be after start_time")
    if plan.estimated_restore_time is not None and plan.estimated_restore_time <= plan.start_time:
        raise _refuse("estimatedRestoreTime", "estimated_restore_time must be after start_time")


def check_state(name: str, state: str, allowed: tuple[OutageState, ...], action: str) -> None:
    """FAILED_PRECONDITION unless the outage is in one of the `allowed` states."""
    if state not in allowed:
        raise FailedPrecondition(
            f"{name} is {state}: only {' or '.join(allowed)} outages can be {action}",
            metadata={"field": "state", "state": state},
        )


def check_restore_time(restore: datetime, start: datetime, now: datetime) -> None:
    """A restoration happens after the start and not in the future."""
    if restore > now + CLOCK_SKEW:
        raise InvalidArgument(
            "restore_time is in the future",
            field_violations=[FieldViolation("restoreTime", "must not be in the future")],
        )
    if restore < start:
        raise InvalidArgument(
            "restore_time is before the outage started",
            field_violations=[FieldViolation("restoreTime", "must not be before start_time")],
        )
