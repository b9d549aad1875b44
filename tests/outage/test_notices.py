"""Messages to affected subscribers: customers resolved through billing, users through
account, one message per user and event, the opted-out left out, the outbox delivered
after the commit, and the 24-hour reminder sent once as the clock moves."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf import field_mask_pb2
from sqlmodel import select

from palmgrid.account.v1 import resources_pb2 as account_resources
from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import resources_pb2
from servers.outage.models import NoticeRow
from tests.outage.support import DAY, OutageSystem


def test_announcing_queues_the_notice_without_delivering_it(system: OutageSystem) -> None:
    system.process.dispatcher.stop()  # nothing delivers in the background now
    try:
        outage = system.announce()
        with system.outage.runtime.session() as session:
            notices = session.exec(select(NoticeRow)).all()
        assert [(n.event, n.deliver_time) for n in notices] == [("ANNOUNCED", None)]
        assert system.messages("u-one") == []
        assert system.deliver() == 1
    finally:
        system.process.dispatcher.start()
    [message] = system.messages("u-one")
    assert message.topic == account_resources.TOPIC_OUTAGE
    assert message.target == outage.name
    assert message.customer == "customers/3100000001"
    assert message.title == "计划停电通知"


def test_a_user_bound_to_two_affected_customers_gets_one_message(system: OutageSystem) -> None:
    system.announce()
    system.deliver()
    [message] = system.messages("u-two")
    assert "3100000001" in message.body and "3100000011" in message.body
    assert message.customer == ""  # two customers: the body names both


def test_only_subscribers_of_affected_areas_hear_of_it(system: OutageSystem) -> None:
    system.announce()
    system.deliver()
    assert system.messages("u-quiet") == []  # outage alerts off
    assert system.messages("u-other") == []  # A02 is not affected
    assert len(system.messages("u-one")) == 1


def test_delivering_again_writes_nothing_twice(system: OutageSystem) -> None:
    system.announce()
    system.deliver()
    with system.outage.runtime.session(write=True) as session:
        for notice in session.exec(select(NoticeRow)).all():
            notice.deliver_time = None  # as if the commit after delivery had been lost
            session.add(notice)
    system.deliver()
    assert len(system.messages("u-one")) == 1


def test_a_change_of_areas_tells_customers_before_and_after(system: OutageSystem) -> None:
    outage = system.announce()
    system.deliver()
    system.stub.UpdateOutage(
        outage_pb.UpdateOutageRequest(
            outage=resources_pb2.Outage(name=outage.name, area_codes=["A02"]),
            update_mask=field_mask_pb2.FieldMask(paths=["area_codes"]),
        ),
        metadata=system.dispatcher(),
    )
    system.deliver()
    assert [m.title for m in system.messages("u-one")] == ["计划停电通知", "停电信息变更"]
    assert [m.title for m in system.messages("u-other")] == ["停电信息变更"]


def test_cancel_and_restore_tell_subscribers(system: OutageSystem) -> None:
    cancelled = system.announce()
    system.stub.CancelOutage(
        outage_pb.CancelOutageRequest(name=cancelled.name, reason="天气原因"),
        metadata=system.dispatcher(),
    )
    now = system.clock.now()
    fault = system.announce(kind=resources_pb2.OUTAGE_KIND_UNPLANNED, start_time=now, days=0)
    system.stub.RestoreOutage(
        outage_pb.RestoreOutageRequest(name=fault.name), metadata=system.dispatcher()
    )
    system.deliver()
    titles = [m.title for m in system.messages("u-one")]
    assert sorted(titles) == sorted(
        ["计划停电通知", "停电取消通知", "故障停电通知", "恢复供电通知"]
    )


def test_reminder_24_hours_before_start_is_sent_once(system: OutageSystem) -> None:
    outage = system.announce(days=8)
    system.deliver()
    start = outage.start_time.ToDatetime().replace(tzinfo=system.clock.now().tzinfo)
    system.clock.set(start - DAY - timedelta(minutes=1))
    assert system.process.jobs.run_due().reminded == 0
    system.clock.set(start - DAY + timedelta(minutes=1))
    assert system.process.jobs.run_due().reminded == 1
    system.clock.advance(timedelta(hours=1))
    assert system.process.jobs.run_due().reminded == 0
    system.deliver()
    assert [m.title for m in system.messages("u-one")] == ["计划停电通知", "停电提醒"]


def test_no_reminder_for_an_outage_announced_within_a_day(system: OutageSystem) -> None:
    system.announce(days=0.5, urgent=True, urgent_reason="抢修")
    assert system.process.jobs.run_due().reminded == 0


def test_the_clock_starts_and_ends_a_planned_outage(system: OutageSystem) -> None:
    outage = system.announce(days=8)
    start = outage.start_time.ToDatetime().replace(tzinfo=system.clock.now().tzinfo)
    system.clock.set(start)
    assert system.process.jobs.run_due().started == 1
    got = system.stub.GetOutage(outage_pb.GetOutageRequest(name=outage.name))
    assert got.state == resources_pb2.OUTAGE_STATE_ACTIVE
    system.clock.set(start + timedelta(hours=6))
    assert system.process.jobs.run_due().ended == 1
    got = system.stub.GetOutage(outage_pb.GetOutageRequest(name=outage.name))
    assert got.state == resources_pb2.OUTAGE_STATE_RESTORED
    assert got.restore_time == outage.end_time
