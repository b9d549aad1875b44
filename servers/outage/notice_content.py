"""What affected customers are told about an outage event: the notification service's
template (`servers/notification/templates.toml`, `outage.*`) and its parameters, with
times in China Standard Time, and whether it goes out as an emergency. Chosen when the
event is recorded, so the message says what was true then."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from servers.outage.models import OutageKind, OutageRow
from servers.runtime import CHINA_STANDARD_TIME


class NoticeEvent(enum.StrEnum):
    """Outage events customers are told about."""

    ANNOUNCED = "ANNOUNCED"
    UPDATED = "UPDATED"
    CANCELLED = "CANCELLED"
    RESTORED = "RESTORED"
    REMINDER = "REMINDER"


@dataclass(frozen=True)
class NoticeContent:
    """A notification template, its parameters and the message's urgency."""

    template: str
    parameters: dict[str, str]
    urgent: bool


_TEMPLATES = {
    (NoticeEvent.ANNOUNCED, OutageKind.PLANNED): "outage.planned",
    (NoticeEvent.ANNOUNCED, OutageKind.UNPLANNED): "outage.unplanned",
    (NoticeEvent.UPDATED, OutageKind.PLANNED): "outage.changed",
    (NoticeEvent.UPDATED, OutageKind.UNPLANNED): "outage.changed",
    (NoticeEvent.CANCELLED, OutageKind.PLANNED): "outage.cancelled",
    (NoticeEvent.RESTORED, OutageKind.PLANNED): "outage.restored",
    (NoticeEvent.RESTORED, OutageKind.UNPLANNED): "outage.restored",
    (NoticeEvent.REMINDER, OutageKind.PLANNED): "outage.reminder",
}
# A fault that has cut (or still cuts) the power is news at any hour: through quiet
# hours. Restoration and everything about planned work waits for the morning.
_URGENT_EVENTS = (NoticeEvent.ANNOUNCED, NoticeEvent.UPDATED)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "待定"
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%m月%d日%H:%M")


def _reason(row: OutageRow) -> str:
    return f"{row.reason}（紧急：{row.urgent_reason}）" if row.urgent else row.reason


def compose(event: NoticeEvent, row: OutageRow) -> NoticeContent:
    """The template, parameters and urgency of the message about `event` of `row`."""
    kind = OutageKind(row.kind)
    end = row.end_time if kind == OutageKind.PLANNED else row.estimated_restore_time
    parameters = {
        "start": _when(row.start_time),
        "end": _when(end),
        "restore": _when(row.estimated_restore_time),
        "time": _when(row.restore_time),
        "reason": _reason(row)[:1000],
        "cancelReason": row.cancel_reason,
    }
    return NoticeContent(
        template=_TEMPLATES[(event, kind)],
        parameters=parameters,
        urgent=kind == OutageKind.UNPLANNED and event in _URGENT_EVENTS,
    )
