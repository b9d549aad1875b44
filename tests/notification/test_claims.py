"""Claims against the real clock and a slow sandbox gateway: a row is sent only while
its sender's claim on it holds, and the caller's deadline is kept.

A batch is claimed at once and sent one row after another, so a row late in a batch
would be sent after the batch's claim lapsed; its claim is renewed just before its send,
and a row another sender claimed meanwhile is left to that sender."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.runtime import SYSTEM_CLOCK
from tests.account.conftest import Account
from tests.notification.sandbox_process import SandboxProcess
from tests.notification.support import (
    SMS,
    Notification,
    Person,
    create,
    deliver_all,
    deliveries,
    fast_config,
    new_person,
    outage_message,
    start_notification,
)

# The sandbox holds each answer this long; the claim lasts two sends.
SEND_SECONDS = 1.0
GATEWAY_TIMEOUT_SECONDS = 1.5
CLAIM_SECONDS = 2.0
D = notification_pb


@pytest.fixture(scope="module")
def live(directory: Path, account: Account, sandbox: SandboxProcess) -> Iterator[Notification]:
    """A notification server on the real clock, without quiet hours."""
    config = fast_config(
        sandbox.url,
        gateway_timeout_seconds=GATEWAY_TIMEOUT_SECONDS,
        claim_seconds=CLAIM_SECONDS,
        quiet_hours_start="00:00",
        quiet_hours_end="00:00",
    )
    running = start_notification(
        account, f"sqlite:///{directory / 'claims.db'}", config, SYSTEM_CLOCK
    )
    yield running
    running.close()


def _four_sms(account: Account, live: Notification) -> tuple[list[Person], list[str]]:
    people = [new_person(account) for _ in range(4)]
    made = [create(live, outage_message(users=[p.user], channels=(SMS,))) for p in people]
    return people, [m.name for m in made]


def _attempts(live: Notification, messages: list[str]) -> list[list[int]]:
    return [
        [a.outcome for a in delivery.attempts]
        for name in messages
        for delivery in deliveries(live, name)
    ]


def test_a_row_whose_claim_lapsed_before_its_send_is_left_to_the_sender_that_took_it(
    account: Account, sandbox: SandboxProcess, live: Notification
) -> None:
    people, messages = _four_sms(account, live)
    sandbox.behave("delay", SEND_SECONDS)
    replies: dict[str, service_pb.DeliverDueMessagesResponse] = {}

    def first_sender() -> None:
        replies["first"] = live.deliver(4)

    first = threading.Thread(target=first_sender)
    first.start()
    # The batch's claim has lapsed; the first sender is on its third row, the fourth
    # waits for its turn.
    time.sleep(CLAIM_SECONDS + 0.5)
    replies["second"] = live.deliver(4)
    first.join(30)

    received = [e for p in people for e in sandbox.received(p.phone)]
    assert len(received) == 4
    assert len({e["key"] for e in received}) == 4
    assert replies["first"].attempted_count + replies["second"].attempted_count == 4
    assert replies["second"].attempted_count >= 1
    # Every delivery made once, with one attempt: none left IN_FLIGHT by the sender
    # that did not send it.
    assert _attempts(live, messages) == [[D.ATTEMPT_OUTCOME_ACCEPTED]] * 4


def test_rows_the_deadline_leaves_no_room_for_are_handed_back_unattempted(
    account: Account, sandbox: SandboxProcess, live: Notification
) -> None:
    people, messages = _four_sms(account, live)
    sandbox.behave("delay", SEND_SECONDS)
    # Room for one send (its 1.5 s timeout and a second to answer, with 0.9 s to claim),
    # not for two (each takes 1 s).
    reply = live.stub("worker").DeliverDueMessages(
        service_pb.DeliverDueMessagesRequest(max_deliveries=4), timeout=3.4
    )
    assert (reply.attempted_count, reply.remaining_count) == (1, 3)
    assert sorted(map(len, _attempts(live, messages))) == [0, 0, 0, 1]
    states = {d.state for name in messages for d in deliveries(live, name)}
    assert D.DELIVERY_STATE_FAILED not in states

    sandbox.behave("accept")
    deliver_all(live)
    received = [e for p in people for e in sandbox.received(p.phone)]
    assert len(received) == len({e["key"] for e in received}) == 4
    assert _attempts(live, messages) == [[D.ATTEMPT_OUTCOME_ACCEPTED]] * 4
