"""What affected customers read about an outage event: a title and a body in Chinese,
with times in China Standard Time. Rendered when the event is recorded, so the message
says what was true then."""

from __future__ import annotations

import enum
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


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "待定"
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%m月%d日%H:%M")


def _where(row: OutageRow) -> str:
    return row.area_description or "、".join(row.area_codes) + "台区"


def _span(row: OutageRow) -> str:
    if row.kind == OutageKind.PLANNED:
        return f"{_when(row.start_time)}至{_when(row.end_time)}"
    return f"{_when(row.start_time)}起，预计{_when(row.estimated_restore_time)}恢复"


_TITLES = {
    (NoticeEvent.ANNOUNCED, OutageKind.PLANNED): "计划停电通知",
    (NoticeEvent.ANNOUNCED, OutageKind.UNPLANNED): "故障停电通知",
    (NoticeEvent.UPDATED, OutageKind.PLANNED): "停电信息变更",
    (NoticeEvent.UPDATED, OutageKind.UNPLANNED): "停电信息变更",
    (NoticeEvent.CANCELLED, OutageKind.PLANNED): "停电取消通知",
    (NoticeEvent.RESTORED, OutageKind.PLANNED): "恢复供电通知",
    (NoticeEvent.RESTORED, OutageKind.UNPLANNED): "恢复供电通知",
    (NoticeEvent.REMINDER, OutageKind.PLANNED): "停电提醒",
}


def compose(event: NoticeEvent, row: OutageRow) -> tuple[str, str]:
    """The title and body of the message about `event` of outage `row`."""
    title = _TITLES[(event, OutageKind(row.kind))]
    where = _where(row)
    if event == NoticeEvent.CANCELLED:
        body = f"原定{_span(row)}在{where}的停电已取消：{row.cancel_reason}"
    elif event == NoticeEvent.RESTORED:
        body = f"{where}已于{_when(row.restore_time)}恢复供电。{row.restore_note}"
    elif event == NoticeEvent.REMINDER:
        body = f"明天{_span(row)}，{where}将停电，原因：{row.reason}。请提前做好准备。"
    else:
        urgent = f"（紧急：{row.urgent_reason}）" if row.urgent else ""
        body = f"{_span(row)}，{where}停电，原因：{row.reason}{urgent}"
    return title, body[:1900]
