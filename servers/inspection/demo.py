"""The inspection service's demo data (CONTRACT.md): a few open inspection tasks of the
麒麟 office (QJ-QL), each assigned to the demo inspectors `inspector` and `patroller`,
due a few days after the first start.

The tasks need the inspectors' user names (account) and the customers' archive records
(billing), which may not be serving yet when inspection starts (`./dev up` starts them
together), so a background thread seeds them, retrying until both answer. Seeding adds
only the tasks that are missing, by id, for customers the archive has.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from servers.inspection.checklists import checklist
from servers.inspection.customers import CustomerArchive
from servers.inspection.models import InspectionRow, InspectionState
from servers.inspection.staff import INSPECTOR_ROLE, Staff
from servers.inspection.store import replace_assignees
from servers.runtime import Clock, DomainError, InvalidArgument, Runtime
from servers.runtime.background import start_background

log = logging.getLogger("palmgrid.inspection")

OFFICE = "QJ-QL"
INSPECTORS = ("inspector", "patroller")
ATTEMPTS = 120
PAUSE_SECONDS = 5.0


@dataclass(frozen=True)
class DemoTask:
    id: str
    customer: str
    kind: str
    description: str
    due_days: int


DEMO_TASKS = (
    DemoTask("demo-periodic-1", "customers/3100000001", "PERIODIC", "年度周期检查", 3),
    DemoTask("demo-special-1", "customers/3100000012", "SPECIAL", "春季用电安全专项检查", 5),
    DemoTask("demo-anomaly-1", "customers/3100000013", "ANOMALY", "计量系统提示用电量骤降", 1),
)


def _inspectors(staff: Staff) -> list[str] | None:
    """The demo inspectors' user names, in INSPECTORS' order; None until both exist."""
    by_username = {u.username: u.name for u in staff.holding(INSPECTOR_ROLE, OFFICE)}
    if not all(name in by_username for name in INSPECTORS):
        return None
    return [by_username[name] for name in INSPECTORS]


def seed_tasks(runtime: Runtime, clock: Clock, archive: CustomerArchive, staff: Staff) -> int:
    """Add the missing demo tasks; how many were added (-1: the inspectors are missing)."""
    with runtime.session() as session:
        missing = [t for t in DEMO_TASKS if session.get(InspectionRow, t.id) is None]
    if not missing:
        return 0
    assignees = _inspectors(staff)
    if assignees is None:
        return -1
    now = clock.now()
    rows = []
    for demo in missing:
        try:
            customer = archive.customer(demo.customer, "customer")
        except InvalidArgument:
            # A smaller demo archive (PALMGRID_BILLING_DEMO_CUSTOMERS) lacks the customer.
            log.info("demo inspection task skipped", extra={"customer": demo.customer})
            continue
        rows.append(
            InspectionRow(
                id=demo.id,
                customer=demo.customer,
                kind=demo.kind,
                description=demo.description,
                supply_office=customer.supply_office,
                due_time=now + timedelta(days=demo.due_days),
                state=InspectionState.PENDING.value,
                customer_display_name=customer.holder_name,
                customer_phone=customer.phone,
                address=customer.address,
                checklist=list(checklist(demo.kind)),
                creator=assignees[0],
                create_time=now,
                update_time=now,
            )
        )
    with runtime.session(write=True) as session:
        for row in rows:
            if session.get(InspectionRow, row.id) is not None:
                continue
            session.add(row)
            session.flush()
            replace_assignees(session, row.id, assignees)
    return len(rows)


def _seed_when_ready(
    runtime: Runtime, clock: Clock, archive: CustomerArchive, staff: Staff, stop: threading.Event
) -> None:
    for _ in range(ATTEMPTS):
        if stop.is_set():
            return
        try:
            added = seed_tasks(runtime, clock, archive, staff)
            if added >= 0:
                log.info("demo inspection tasks ready", extra={"tasks_added": added})
                return
            log.info("demo inspection tasks wait for the demo inspectors")
        except DomainError as error:
            log.info(
                "demo inspection tasks wait for billing and account", extra={"why": str(error)}
            )
        stop.wait(PAUSE_SECONDS)


def seed_demo(runtime: Runtime, clock: Clock, archive: CustomerArchive, staff: Staff) -> None:
    """Seed the demo tasks on a background thread, stopped when the runtime closes."""
    start_background(
        runtime,
        "inspection-demo",
        lambda stop: _seed_when_ready(runtime, clock, archive, staff, stop),
    )
