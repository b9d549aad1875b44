"""Deadline reminders and progress messages over real gRPC, with a clock the tests
move: the staff of a running node are reminded at 50% and 80% of its limit and when it
is overdue, each exactly once even with two workers at once; the due list per supply
office; the applicant hears of each completed node only when subscribed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as internal_pb
from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.models import ApplicationRow
from tests.expansion.support import START, ExpansionSystem

RESIDENTIAL = pb.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL
# A residential acceptance filed at START (Monday 08:00 CST) is due 24 hours later.
LIMIT = timedelta(hours=24)


def _run(system: ExpansionSystem) -> tuple[int, int]:
    reply = system.internal.RunReminders(internal_pb.RunRemindersRequest(), timeout=10)
    return reply.share_reminded_count, reply.overdue_reminded_count


def _reminded(system: ExpansionSystem, user: str) -> list[str]:
    return [m.parameters["passed"] for m in system.messages(user, "application.reminder")]


def test_staff_are_reminded_at_half_four_fifths_and_overdue_once_each(
    system: ExpansionSystem,
) -> None:
    system.file(RESIDENTIAL)
    system.clock.set(START + LIMIT * 0.5 - timedelta(minutes=1))
    assert _run(system) == (0, 0)
    system.clock.set(START + LIMIT * 0.5)
    assert _run(system) == (1, 0)
    assert _run(system) == (0, 0)
    # Both of the office's connection staff hear of it; the other office's do not.
    assert _reminded(system, "s-ql") == ["已用时50%"]
    assert _reminded(system, "s-ql2") == ["已用时50%"]
    assert _reminded(system, "s-zy") == []
    system.clock.set(START + LIMIT * 0.8)
    assert _run(system) == (1, 0)
    system.clock.set(START + LIMIT)
    assert _run(system) == (0, 1)
    system.clock.advance(timedelta(days=3))
    assert _run(system) == (0, 0)
    assert _reminded(system, "s-ql") == ["已用时50%", "已用时80%", "已超期"]


def test_the_worker_job_reminds_the_handler_alone(system: ExpansionSystem) -> None:
    filed = system.file(RESIDENTIAL)
    system.stub.AssignApplication(
        service_pb.AssignApplicationRequest(name=filed.name, handler="users/s-ql2"),
        metadata=system.expander(),
    )
    system.clock.set(START + LIMIT * 0.5)
    ran = system.workers[0].run_now("expansion.reminders")
    assert ran is not None and ran[0] == "OK", ran
    assert ran[1].startswith("1 share reminders")
    assert _reminded(system, "s-ql2") == ["已用时50%"]
    assert _reminded(system, "s-ql") == []


def test_two_workers_at_once_send_each_reminder_once(system: ExpansionSystem) -> None:
    for _ in range(3):
        system.file(RESIDENTIAL)
    system.clock.set(START + LIMIT)  # 50%, 80% and overdue are all due for all three.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _run(system), range(4)))
    assert sum(shares for shares, _ in results) == 6
    assert sum(overdue for _, overdue in results) == 3
    assert sorted(_reminded(system, "s-ql")) == sorted(["已用时50%", "已用时80%", "已超期"] * 3)


def test_a_node_waiting_on_the_customer_is_not_reminded(system: ExpansionSystem) -> None:
    filed = system.file(RESIDENTIAL)
    system.stub.SendBackApplication(
        service_pb.SendBackApplicationRequest(name=filed.name, reason="缺少身份证"),
        metadata=system.expander(),
    )
    system.clock.set(START + LIMIT * 2)
    assert _run(system) == (0, 0)
    # Resumed, its clock runs from the moved start: half its limit later, the 50% mark.
    system.stub.ResumeApplication(
        service_pb.ResumeApplicationRequest(name=filed.name), metadata=system.applicant()
    )
    assert _run(system) == (0, 0)
    system.clock.advance(LIMIT * 0.5)
    assert _run(system) == (1, 0)


def test_the_due_list_shows_each_office_its_overdue_and_near_due(system: ExpansionSystem) -> None:
    early = system.file(RESIDENTIAL)
    far = system.file(RESIDENTIAL, area_code="A07")
    system.clock.advance(timedelta(hours=12))
    later = system.file(RESIDENTIAL)
    # 20 hours after START: `early` is 4 hours from due (inside its 8-hour lead),
    # `later` 16 hours (not yet near).
    system.clock.set(START + timedelta(hours=20))
    near = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(), metadata=system.expander()
    )
    assert [a.name for a in near.applications] == [early.name]
    within = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(due_within={"seconds": 24 * 3600}),
        metadata=system.expander(),
    )
    assert [a.name for a in within.applications] == [early.name, later.name]
    system.clock.set(START + timedelta(hours=25))
    overdue = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(overdue_only=True), metadata=system.expander()
    )
    assert [a.name for a in overdue.applications] == [early.name]
    other = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(overdue_only=True),
        metadata=system.expander("s-zy"),
    )
    assert [a.name for a in other.applications] == [far.name]


def test_the_applicant_hears_of_each_completed_node_when_subscribed(
    system: ExpansionSystem,
) -> None:
    followed = system.file(RESIDENTIAL)
    quiet = system.file(RESIDENTIAL, metadata=system.applicant("u-quiet"))
    for name in (followed.name, quiet.name):
        system.advance(name)
        system.clock.advance(timedelta(hours=1))  # the outbox orders by time
        system.advance(name)
    progress = system.messages("u-app", "application.progress")
    assert [(m.parameters["node"], m.parameters["state"]) for m in progress] == [
        ("装表接电", "办理中"),
        ("装表接电", "已完成接电"),
    ]
    assert system.messages("u-quiet", "application.progress") == []


def test_each_run_moves_the_application_on_to_its_next_mark(system: ExpansionSystem) -> None:
    filed = system.file(RESIDENTIAL)
    application_id = filed.name.removeprefix("applications/")

    def next_look() -> datetime | None:
        with system.expansion.runtime.session() as session:
            row = session.get(ApplicationRow, application_id)
            assert row is not None
            return row.next_remind_time

    assert next_look() == START  # looked at from the node's start
    _run(system)
    assert next_look() == START + LIMIT * 0.5
    system.clock.set(START + LIMIT * 0.5)
    _run(system)
    assert next_look() == START + LIMIT * 0.8
    system.clock.set(START + LIMIT)
    _run(system)
    assert next_look() is None
    # The next node begins: it is looked at from its start.
    system.advance(filed.name)
    assert next_look() == START + LIMIT
