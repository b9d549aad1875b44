"""Messages to affected subscribers through the notification service: customers
resolved through billing, users through account, one message per user, channel and
event, the opted-out left out, SMS as subscribed, faults through quiet hours, the outbox
delivered after the commit, and the 24-hour reminder sent once as the clock moves.
Messages are counted in the notification service's outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf import field_mask_pb2
from sqlmodel import select

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import resources_pb2
from servers.outage import delivery, notices
from servers.outage.models import NoticeRow
from tests.outage.support import DAY, START, OutageSystem


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
    [delivery] = system.messages("u-one")
    assert delivery.customers == ["customers/3100000001"]
    assert delivery.title == "计划停电通知"
    assert "31****0001" in delivery.body and "3100000001" not in delivery.body
    [message] = system.outbox()
    assert (message.topic, message.template, message.target) == (
        "OUTAGE",
        "outage.planned",
        outage.name,
    )
    assert message.sender == "serviceAccounts/outage"
    assert message.event.startswith(f"{outage.name}/notices/")


def test_announcing_goes_on_while_a_notice_is_being_delivered(
    system: OutageSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced_meanwhile: list[resources_pb2.Outage] = []

    def deliver_and_announce_meanwhile(*args: object, **kwargs: object) -> int:
        if not announced_meanwhile:  # once: the second announcement's notice just delivers
            announced_meanwhile.append(system.announce(reason="配网改造"))
        return notices.notify_affected(*args, **kwargs)  # type: ignore[arg-type]

    system.process.dispatcher.stop()  # nothing delivers in the background now
    try:
        first = system.announce()
        monkeypatch.setattr(delivery, "notify_affected", deliver_and_announce_meanwhile)
        assert system.deliver() == 1  # the first; the second came after the pass began
        assert system.deliver() == 1
    finally:
        system.process.dispatcher.start()
    assert announced_meanwhile[0].name != first.name
    with system.outage.runtime.session() as session:
        pending = session.exec(select(NoticeRow).where(NoticeRow.deliver_time == None)).all()  # noqa: E711
    assert pending == []


def test_a_user_bound_to_two_affected_customers_gets_one_message(system: OutageSystem) -> None:
    system.announce()
    system.deliver()
    [delivery] = system.messages("u-two")
    assert delivery.customers == ["customers/3100000001", "customers/3100000011"]
    assert "31****0001" in delivery.body and "31****0011" in delivery.body
    [sms] = system.messages("u-two", "SMS")
    assert "31****0001" in sms.body and "31****0011" in sms.body


def test_one_message_per_user_and_event_across_messages(
    system: OutageSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "CUSTOMERS_PER_MESSAGE", 1)  # each customer its own message
    system.announce()
    system.deliver()
    assert len(system.outbox()) == 2  # customers 3100000001 and 3100000011
    [delivery] = system.messages("u-two")  # bound to both: the second message skips them
    assert delivery.customers == ["customers/3100000001"]
    assert len(system.messages("u-two", "SMS")) == 1


def test_sms_only_for_users_who_take_it(system: OutageSystem) -> None:
    system.announce(area_codes=["A01", "A02"])
    system.deliver()
    assert [d.phone for d in system.messages("u-one", "SMS")] == ["13900000001"]
    assert len(system.messages("u-other")) == 1
    assert system.messages("u-other", "SMS") == []  # no phone, no SMS switch


def test_faults_go_through_quiet_hours_and_planned_work_waits(system: OutageSystem) -> None:
    system.clock.set(START + timedelta(hours=15))  # 23:00 in China Standard Time
    now = system.clock.now()
    system.announce(kind=resources_pb2.OUTAGE_KIND_UNPLANNED, start_time=now, days=0)
    system.announce(days=8)
    system.deliver()
    sms = {d.title: d for d in system.messages("u-one", "SMS")}
    assert sms["故障停电通知"].urgent
    assert sms["故障停电通知"].next_attempt_time == now
    assert not sms["计划停电通知"].urgent
    assert sms["计划停电通知"].next_attempt_time == START + DAY - timedelta(hours=1)  # 07:00
    assert sorted((m.template, m.urgent) for m in system.outbox()) == [
        ("outage.planned", False),
        ("outage.unplanned", True),
    ]


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
    assert len(system.outbox()) == 1  # the same request id: the first message


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
    assert sorted(m.title for m in system.messages("u-one")) == ["停电信息变更", "计划停电通知"]
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


def test_reminder_24_hours_before_start_is_sent_once_by_the_worker(
    system: OutageSystem,
) -> None:
    outage = system.announce(days=8)
    system.deliver()
    start = outage.start_time.ToDatetime().replace(tzinfo=system.clock.now().tzinfo)
    system.clock.set(start - DAY - timedelta(minutes=1))
    assert system.run_clock_job() == "0 outages started, 0 ended, 0 reminders queued"
    system.clock.set(start - DAY + timedelta(minutes=1))
    assert system.run_clock_job() == "0 outages started, 0 ended, 1 reminders queued"
    system.clock.advance(timedelta(hours=1))
    assert system.run_clock_job() == "0 outages started, 0 ended, 0 reminders queued"
    system.deliver()
    assert [m.title for m in system.messages("u-one")] == ["计划停电通知", "停电提醒"]
    assert [m.title for m in system.messages("u-one", "SMS")] == ["计划停电通知", "停电提醒"]


def test_no_reminder_for_an_outage_announced_within_a_day(system: OutageSystem) -> None:
    system.announce(days=0.5, urgent=True, urgent_reason="抢修")
    assert system.process.jobs.run_due().reminded == 0


def test_the_worker_starts_and_ends_a_planned_outage_by_the_clock(system: OutageSystem) -> None:
    outage = system.announce(days=8)
    start = outage.start_time.ToDatetime().replace(tzinfo=system.clock.now().tzinfo)
    system.clock.set(start)
    assert system.run_clock_job().startswith("1 outages started, 0 ended")
    got = system.stub.GetOutage(outage_pb.GetOutageRequest(name=outage.name))
    assert got.state == resources_pb2.OUTAGE_STATE_ACTIVE
    system.clock.set(start + timedelta(hours=6))
    assert system.run_clock_job().startswith("0 outages started, 1 ended")
    got = system.stub.GetOutage(outage_pb.GetOutageRequest(name=outage.name))
    assert got.state == resources_pb2.OUTAGE_STATE_RESTORED
    assert got.restore_time == outage.end_time
