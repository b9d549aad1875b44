"""The outbox against the real account service and the sandbox gateway process:
recipients and channels, quiet hours, de-duplication, idempotent creation, retries,
dead letters and cancelling."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from sqlmodel import select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.account import models as account_models
from servers.runtime import error_from_rpc
from tests.account.conftest import Account
from tests.notification.sandbox_process import SandboxProcess
from tests.notification.support import (
    DAYTIME,
    IN_APP,
    PUSH,
    SMS,
    TESTER,
    Notification,
    create,
    deliver_all,
    deliveries,
    new_person,
    outage_message,
)

D = notification_pb


def inbox(account: Account, user: str) -> list[str]:
    """The texts in the user's in-app inbox (read from the account database)."""
    with account.runtime.session() as session:
        rows = session.exec(
            select(account_models.Message).where(
                account_models.Message.user_id == user.removeprefix("users/")
            )
        ).all()
        return [row.body for row in rows]


def test_a_user_bound_to_several_customers_gets_one_message_per_channel(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account, "3100000001", "3100000002", "3100000003")
    message = create(
        notification, outage_message(customers=["3100000001", "3100000002", "3100000003"])
    )
    deliver_all(notification)

    made = deliveries(notification, message.name)
    assert sorted(d.channel for d in made) == [IN_APP, SMS, PUSH]
    assert {d.state for d in made} == {D.DELIVERY_STATE_DELIVERED}
    [sms] = sandbox.delivered(person.phone)
    [push] = sandbox.delivered(person.push_token)
    [text] = inbox(account, person.user)
    # The customer numbers are masked in every text, all three named once.
    for body in (sms["text"], push["text"], text):
        assert "3100000001" not in body
        assert "31****0001" in body and "31****0003" in body
    got = notification.stub().GetMessage(service_pb.GetMessageRequest(name=message.name))
    assert got.state == D.MESSAGE_STATE_COMPLETED
    assert got.stats.total_count == got.stats.delivered_count == 3


def test_quiet_hours_defer_an_sms_and_let_an_emergency_through(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    night = DAYTIME.replace(hour=15)  # 23:00 in China Standard Time
    notification.clock.set(night)
    person = new_person(account, "3100000011")
    normal = create(notification, outage_message(customers=["3100000011"], channels=(IN_APP, SMS)))
    deliver_all(notification)
    assert sandbox.received(person.phone) == []
    [sms] = [d for d in deliveries(notification, normal.name) if d.channel == SMS]
    assert sms.state == D.DELIVERY_STATE_PENDING
    assert sms.next_attempt_time.ToDatetime().hour == 23  # 07:00 CST, in UTC
    [in_app] = [d for d in deliveries(notification, normal.name) if d.channel == IN_APP]
    assert in_app.state == D.DELIVERY_STATE_DELIVERED  # the inbox is silent

    urgent = create(
        notification, outage_message(customers=["3100000011"], channels=(SMS,), urgent=True)
    )
    deliver_all(notification)
    [emergency] = sandbox.delivered(person.phone)
    assert "预计今日18:00恢复供电" in emergency["text"]
    assert deliveries(notification, urgent.name)[0].state == D.DELIVERY_STATE_DELIVERED

    notification.clock.set(night + timedelta(hours=7, minutes=59))  # 06:59 CST
    assert notification.deliver().attempted_count == 0
    notification.clock.set(night + timedelta(hours=8))  # 07:00 CST: the window opens
    deliver_all(notification)
    assert len(sandbox.delivered(person.phone)) == 2
    assert [d.state for d in deliveries(notification, normal.name) if d.channel == SMS] == [
        D.DELIVERY_STATE_DELIVERED
    ]


def test_the_same_event_reaches_a_user_once_per_channel(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account, "3100000021", "3100000022")
    event = f"outages/{uuid.uuid4().hex[:8]}/announced"
    first = create(notification, outage_message(customers=["3100000021"], event=event))
    second = create(notification, outage_message(customers=["3100000022"], event=event))
    deliver_all(notification)
    assert len(sandbox.delivered(person.phone)) == 1
    assert len(sandbox.delivered(person.push_token)) == 1
    assert len(inbox(account, person.user)) == 1
    skipped = deliveries(notification, second.name)
    assert {d.state for d in skipped} == {D.DELIVERY_STATE_SKIPPED}
    assert all(first.name in d.error for d in skipped)


def test_a_repeated_request_id_returns_the_first_message(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account, "3100000031")
    request_id = str(uuid.uuid4())
    message = outage_message(customers=["3100000031"], channels=(SMS,))
    first = create(notification, message, request_id)
    again = create(notification, message, request_id)
    assert again.name == first.name
    deliver_all(notification)
    assert len(sandbox.delivered(person.phone)) == 1

    other = outage_message(customers=["3100000032"], channels=(SMS,))
    with pytest.raises(grpc.RpcError) as caught:
        create(notification, other, request_id)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_from_rpc(caught.value).reason == "IDEMPOTENCY_KEY_REUSED"


def test_an_unknown_template_or_missing_parameter_names_the_field(
    notification: Notification,
) -> None:
    unknown = outage_message(users=["users/nobody"])
    unknown.template = "outage.someday"
    missing = outage_message(users=["users/nobody"])
    del missing.parameters["reason"]
    for message, field in ((unknown, "message.template"), (missing, "message.parameters")):
        with pytest.raises(grpc.RpcError) as caught:
            create(notification, message)
        error = error_from_rpc(caught.value)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == [field]  # type: ignore[attr-defined]


def test_parameters_too_long_for_the_text_name_the_field(
    account: Account, notification: Notification
) -> None:
    person = new_person(account)
    message = outage_message(users=[person.user], channels=(IN_APP,))
    for name in ("start", "end", "reason"):
        message.parameters[name] = "长" * 1000  # each allowed, together too long a text
    with pytest.raises(grpc.RpcError) as caught:
        create(notification, message)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = error_from_rpc(caught.value)
    assert [v.field for v in error.field_violations] == ["message.parameters"]  # type: ignore[attr-defined]


def test_an_unplanned_outage_goes_out_in_quiet_hours_whatever_its_priority(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    notification.clock.set(DAYTIME.replace(hour=15))  # 23:00 in China Standard Time
    person = new_person(account)
    message = outage_message(users=[person.user], channels=(SMS,), urgent=True)
    message.priority = D.PRIORITY_NORMAL  # the sender did not say it is urgent
    made = create(notification, message)
    deliver_all(notification)
    assert len(sandbox.delivered(person.phone)) == 1
    assert deliveries(notification, made.name)[0].state == D.DELIVERY_STATE_DELIVERED


def test_an_event_whose_message_was_cancelled_can_be_sent_again(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account)
    event = f"outages/{uuid.uuid4().hex[:8]}/announced"
    later = DAYTIME + timedelta(hours=1)
    first = outage_message(users=[person.user], channels=(SMS,), event=event)
    first.send_time.FromDatetime(later)
    cancelled = create(notification, first)
    notification.stub().CancelMessage(
        service_pb.CancelMessageRequest(name=cancelled.name, reason="时间有误")
    )
    again = create(notification, outage_message(users=[person.user], channels=(SMS,), event=event))
    deliver_all(notification)
    assert [d.state for d in deliveries(notification, again.name)] == [D.DELIVERY_STATE_DELIVERED]
    assert len(sandbox.delivered(person.phone)) == 1


def test_only_service_accounts_create_messages(
    account: Account, notification: Notification
) -> None:
    person = new_person(account)
    staff = account.signed_in("admin", "Palm-dev-2026!", "notification")
    with pytest.raises(grpc.RpcError) as caught:
        notification.stub("cli").CreateMessage(
            service_pb.CreateMessageRequest(
                message=outage_message(users=[person.user]), request_id=str(uuid.uuid4())
            ),
            metadata=staff,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_gateway_down_then_up_delivers_every_message_exactly_once(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    people = [new_person(account, f"31000001{n:02d}") for n in range(5)]
    sandbox.stop()  # the gateway is down
    try:
        made = [
            create(notification, outage_message(users=[p.user], channels=(SMS, PUSH)))
            for p in people
        ]
        first = notification.deliver()
        assert (first.attempted_count, first.retry_count, first.delivered_count) == (10, 10, 0)
        notification.clock.advance(timedelta(seconds=10))
        assert notification.deliver().retry_count == 10  # still down: backing off
    finally:
        sandbox.start()  # up again, same port and journal
    assert notification.deliver().attempted_count == 0  # the 20 s backoff has not passed
    notification.clock.advance(timedelta(seconds=20))
    deliver_all(notification)
    for person in people:
        assert len(sandbox.delivered(person.phone)) == 1
        assert len(sandbox.received(person.phone)) == 1
        assert len(sandbox.delivered(person.push_token)) == 1
    for message in made:
        for delivery in deliveries(notification, message.name):
            assert delivery.state == D.DELIVERY_STATE_DELIVERED
            outcomes = [a.outcome for a in delivery.attempts]
            assert outcomes == [D.ATTEMPT_OUTCOME_FAILED] * 2 + [D.ATTEMPT_OUTCOME_ACCEPTED]
            assert delivery.attempts[-1].receipt == delivery.provider_reference != ""


def test_a_call_sends_no_longer_than_its_caller_waits(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    people = [new_person(account) for _ in range(6)]
    made = [create(notification, outage_message(users=[p.user], channels=(SMS,))) for p in people]
    sandbox.behave("delay", 0.5)
    # Six sends of 0.5 s, a caller waiting 5 s, a send allowed 2 s (the gateway timeout)
    # and a second to answer: the call sends while a whole send and the answer fit (at
    # most four), then hands the rest back.
    reply = notification.stub("worker").DeliverDueMessages(
        service_pb.DeliverDueMessagesRequest(), timeout=5
    )
    assert 1 <= reply.attempted_count < len(people)
    unsent = len(people) - reply.attempted_count
    assert reply.remaining_count >= unsent
    assert len([e for p in people for e in sandbox.received(p.phone)]) == reply.attempted_count
    # What was handed back is due again as if never claimed: no attempt recorded.
    untouched = [d for m in made for d in deliveries(notification, m.name) if not d.attempts]
    assert len(untouched) == unsent
    assert all(d.attempt_count == 0 for d in untouched)
    sandbox.behave("accept")
    deliver_all(notification)
    for person in people:
        assert len(sandbox.received(person.phone)) == 1


def test_a_failing_gateway_ends_in_the_dead_letter_state(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account)
    sandbox.behave("fail")
    message = create(notification, outage_message(users=[person.user], channels=(SMS,)))
    waits = []
    for _ in range(4):  # max_attempts
        notification.deliver()
        [delivery] = deliveries(notification, message.name)
        if delivery.state == D.DELIVERY_STATE_PENDING:
            wait = delivery.next_attempt_time.ToDatetime() - notification.clock.now().replace(
                tzinfo=None
            )
            waits.append(wait.total_seconds())
            notification.clock.advance(wait)
    assert waits == [10, 20, 40]  # exponential backoff
    assert delivery.state == D.DELIVERY_STATE_FAILED
    assert "given up after 4 attempts" in delivery.error
    assert len(sandbox.received(person.phone)) == 4
    assert sandbox.delivered(person.phone) == []
    failed = notification.stub().ListDeliveries(
        service_pb.ListDeliveriesRequest(parent="messages/-", state=D.DELIVERY_STATE_FAILED)
    )
    assert delivery.name in [d.name for d in failed.deliveries]


def test_a_rejected_send_fails_at_once(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account)
    sandbox.behave("reject")
    message = create(notification, outage_message(users=[person.user], channels=(SMS,)))
    assert notification.deliver().failed_count == 1
    [delivery] = deliveries(notification, message.name)
    assert delivery.state == D.DELIVERY_STATE_FAILED
    assert [a.outcome for a in delivery.attempts] == [D.ATTEMPT_OUTCOME_REJECTED]
    assert delivery.phone == person.phone[:3] + "****" + person.phone[-4:]


def test_cancelling_skips_what_was_not_sent(
    account: Account, notification: Notification, sandbox: SandboxProcess
) -> None:
    person = new_person(account)
    later = DAYTIME + timedelta(hours=1)
    message = outage_message(users=[person.user], channels=(SMS,))
    message.send_time.FromDatetime(later)
    made = create(notification, message)
    assert notification.deliver().attempted_count == 0  # not before its send time
    cancelled = notification.stub().CancelMessage(
        service_pb.CancelMessageRequest(name=made.name, reason="停电计划取消")
    )
    assert cancelled.message.state == D.MESSAGE_STATE_CANCELLED
    assert cancelled.message.stats.skipped_count == 1
    notification.clock.set(later)
    deliver_all(notification)
    assert sandbox.received(person.phone) == []
    with pytest.raises(grpc.RpcError) as caught:
        notification.stub().CancelMessage(
            service_pb.CancelMessageRequest(name=made.name, reason="again")
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_messages_are_listed_newest_first(account: Account, notification: Notification) -> None:
    person = new_person(account)
    notification.clock.set(DAYTIME + timedelta(days=2))  # later than every other test's
    older = create(notification, outage_message(users=[person.user], channels=(IN_APP,)))
    notification.clock.advance(timedelta(minutes=1))
    newer = create(notification, outage_message(users=[person.user], channels=(IN_APP,)))
    stub = notification.stub()
    request = service_pb.ListMessagesRequest(sender=f"serviceAccounts/{TESTER}", page_size=1)
    request.start_time.FromDatetime(DAYTIME + timedelta(days=2))
    first = stub.ListMessages(request)
    request.page_token = first.next_page_token
    second = stub.ListMessages(request)
    assert [first.messages[0].name, second.messages[0].name] == [newer.name, older.name]
    assert first.messages[0].stats.pending_count == 1


def test_a_message_to_a_phone_goes_by_sms_to_that_number_alone(
    notification: Notification, sandbox: SandboxProcess
) -> None:
    def to_phone(*channels: int) -> notification_pb.Message:
        return D.Message(
            topic=account_pb.TOPIC_ACCOUNT,
            template="binding.code",
            parameters={"customer": "3100000042", "code": "123456", "minutes": "10"},
            channels=list(channels),
            phones=["13900000042"],
        )

    with pytest.raises(grpc.RpcError) as caught:
        create(notification, to_phone(SMS, IN_APP))
    assert [v.field for v in error_from_rpc(caught.value).field_violations] == [  # type: ignore[attr-defined]
        "message.channels"
    ]
    made = create(notification, to_phone(SMS))
    assert made.stats.total_count == 1
    (delivery,) = deliveries(notification, made.name)
    assert delivery.channel == SMS and delivery.user == ""
    assert delivery.phone == "139****0042"
    deliver_all(notification)
    (sent,) = sandbox.delivered("13900000042")
    assert "123456" in str(sent) and "31****0042" in str(sent)
