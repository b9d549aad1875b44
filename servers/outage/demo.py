"""The outage service's demo data (CONTRACT.md): a few planned outages and one active
unplanned outage in the demo areas, dated from the clock at the first start.

Seeding adds only the outages that are missing, by id, and leaves existing ones alone,
so the clock moves them on like any other (a planned one seeded a month ago is
restored by now). Each is recorded in the change feed like an announcement; no
notices are queued (no demo user had a chance to subscribe).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel import Session

from servers.outage.changes import record
from servers.outage.models import OutageKind, OutageRow, OutageState
from servers.runtime import CHINA_STANDARD_TIME

# The contract's demo archive: 1,000 customers over ten areas.
CUSTOMERS_PER_AREA = 100


@dataclass(frozen=True)
class DemoOutage:
    id: str
    kind: OutageKind
    areas: tuple[str, ...]
    office: str
    description: str
    reason: str
    # Planned: days from today (local) and the local start hour, lasting `hours`.
    # Unplanned: started `hours` ago, estimated to last twice that.
    days: int
    start_hour: int
    hours: int


DEMO_OUTAGES = (
    DemoOutage(
        "demo-planned-1",
        OutageKind.PLANNED,
        ("A01", "A02"),
        "QJ-QL",
        "麒麟区南宁西路、建宁东路一带",
        "10kV 南宁线检修",
        8,
        8,
        8,
    ),
    DemoOutage(
        "demo-planned-2",
        OutageKind.PLANNED,
        ("A03",),
        "QJ-QL",
        "麒麟区文昌街道瑞和社区",
        "配电变压器更换",
        10,
        9,
        6,
    ),
    DemoOutage(
        "demo-planned-3",
        OutageKind.PLANNED,
        ("A07",),
        "QJ-ZY",
        "沾益区西平街道",
        "线路迁改施工",
        14,
        7,
        10,
    ),
    DemoOutage(
        "demo-fault-1",
        OutageKind.UNPLANNED,
        ("A05",),
        "QJ-QL",
        "麒麟区三江大道东段",
        "线路故障抢修",
        0,
        0,
        1,
    ),
)


def _row(demo: DemoOutage, now: datetime) -> OutageRow:
    if demo.kind == OutageKind.PLANNED:
        day = now.astimezone(CHINA_STANDARD_TIME).date() + timedelta(days=demo.days)
        start = datetime.combine(day, time(demo.start_hour), CHINA_STANDARD_TIME)
        end: datetime | None = start + timedelta(hours=demo.hours)
        estimate = None
        state = OutageState.SCHEDULED
    else:
        start = now - timedelta(hours=demo.hours)
        end = None
        estimate = now + timedelta(hours=2 * demo.hours)
        state = OutageState.ACTIVE
    return OutageRow(
        id=demo.id,
        kind=demo.kind.value,
        state=state.value,
        area_codes=list(demo.areas),
        area_description=demo.description,
        start_time=start,
        end_time=end,
        estimated_restore_time=estimate,
        reason=demo.reason,
        supply_office=demo.office,
        affected_customer_count=CUSTOMERS_PER_AREA * len(demo.areas),
        creator="users/demo-dispatcher",
        create_time=now,
        update_time=now,
    )


def seed(session: Session, now: datetime) -> int:
    """Add the demo outages that do not exist yet; how many were added."""
    added = 0
    for demo in DEMO_OUTAGES:
        if session.get(OutageRow, demo.id) is not None:
            continue
        row = _row(demo, now)
        session.add(row)
        record(session, row, "ANNOUNCED", now)
        added += 1
    return added
