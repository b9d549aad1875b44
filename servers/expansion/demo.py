"""The dev profile's demo applications (CONTRACT.md): a few connection applications of
each kind at different nodes, so `./dev up` shows the workflow — one just filed, one at
its supply plan, a high-voltage one waiting on the customer's design documents, one
overdue, one connected, and one of the other office.

They are back-dated from the first start and walked through the real transitions, so
their due times, history and reminders are what live applications would have. They
were "filed at the counter": their creator and actor is the placeholder user
`users/demo-counter`, which belongs to no app user. Seeded at every start in the dev
profile only; an application that exists is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.filing import open_application
from servers.expansion.models import ApplicationRow
from servers.expansion.store import nodes_of
from servers.expansion.transitions import move
from servers.expansion.workflow import load_workflow
from servers.runtime import Clock, Runtime

DEMO_ACTOR = "users/demo-counter"


@dataclass(frozen=True)
class DemoApplication:
    id: str
    kind: int
    area: str
    address: str
    capacity_kva: int
    # Days before the first start it was filed, and the moves after, each (days before
    # the first start, action, note).
    filed_days_ago: float
    moves: tuple[tuple[float, str, str], ...] = ()


DEMO = (
    DemoApplication(
        "demo-residential-new",
        pb.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL,
        "A01",
        "曲靖市麒麟区南宁西路18号",
        8,
        0.1,
    ),
    DemoApplication(
        "demo-business-plan",
        pb.APPLICATION_KIND_LOW_VOLTAGE_BUSINESS,
        "A02",
        "曲靖市麒麟区建宁东路66号",
        60,
        3,
        ((2, "ADVANCED", "资料齐全，已受理"),),
    ),
    DemoApplication(
        "demo-hv-design",
        pb.APPLICATION_KIND_HIGH_VOLTAGE,
        "A03",
        "曲靖市麒麟区三江大道东段工业园",
        1250,
        30,
        (
            (29, "ADVANCED", "资料齐全，已受理"),
            (27, "ADVANCED", "现场勘查完成"),
            (15, "ADVANCED", "供电方案已答复客户"),
            (1, "SENT_BACK", "请补充电气设计图纸及设计单位资质证明"),
        ),
    ),
    DemoApplication(
        "demo-hv-overdue",
        pb.APPLICATION_KIND_HIGH_VOLTAGE,
        "A04",
        "曲靖市麒麟区文昌街道瑞和社区",
        630,
        10,
        ((9, "ADVANCED", "资料齐全，已受理"),),
    ),
    DemoApplication(
        "demo-residential-done",
        pb.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL,
        "A05",
        "曲靖市麒麟区寥廓南路9号",
        8,
        10,
        ((9, "ADVANCED", "已受理"), (7, "ADVANCED", "装表接电完成")),
    ),
    DemoApplication(
        "demo-zhanyi-new",
        pb.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL,
        "A07",
        "曲靖市沾益区西平街道龙华路3号",
        8,
        0.2,
    ),
)


def _applicant(n: int) -> pb.Applicant:
    return pb.Applicant(
        name=("王建国", "曲靖市麒麟商贸有限公司", "云南曲靖装备制造有限公司")[n % 3],
        id_number=f"5303021980010{n:04d}X"[:18],
        contact_phone=f"1380000{n:04d}",
    )


def seed_demo(runtime: Runtime, clock: Clock) -> None:
    """Add the demo applications that are missing (a replica that raced this one to
    one has added it: IntegrityError, skipped)."""
    now = clock.now()
    calendar = runtime.calendar
    for n, demo in enumerate(DEMO, 1):
        try:
            with runtime.session(write=True) as session:
                if session.get(ApplicationRow, demo.id) is not None:
                    continue
                sent = pb.Application(
                    kind=demo.kind,  # type: ignore[arg-type]
                    applicant=_applicant(n),
                    address=demo.address,
                    capacity_kva=demo.capacity_kva,
                )
                row = open_application(
                    session,
                    calendar,
                    now - timedelta(days=demo.filed_days_ago),
                    creator=DEMO_ACTOR,
                    sent=sent,
                    office=load_workflow().office_of_area(demo.area),
                    area=demo.area,
                    application_id=demo.id,
                )
                nodes = nodes_of(session, row.id)
                for days_ago, action, note in demo.moves:
                    move(
                        session,
                        row,
                        nodes,
                        action,
                        actor=DEMO_ACTOR,
                        note=note,
                        now=now - timedelta(days=days_ago),
                        calendar=calendar,
                    )
                    for node in nodes:
                        if node.state == "COMPLETED" and not node.handler:
                            node.handler = DEMO_ACTOR
                session.flush()
        except IntegrityError:
            continue
