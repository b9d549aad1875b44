"""Two notification servers on one PostgreSQL database, called at the same time as two
workers would: `FOR UPDATE SKIP LOCKED` gives each due delivery to one of them, so the
sandbox gateway receives every send exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from servers.runtime import SettableClock
from tests.account.conftest import Account
from tests.notification.sandbox_process import SandboxProcess
from tests.notification.support import (
    DAYTIME,
    SMS,
    Notification,
    create,
    fast_config,
    new_person,
    outage_message,
    start_notification,
)

MESSAGES_PER_PERSON = 10


@pytest.fixture
def senders(
    account: Account, sandbox: SandboxProcess, postgres_url: str
) -> Iterator[list[Notification]]:
    running = [
        start_notification(account, postgres_url, fast_config(sandbox.url), SettableClock(DAYTIME))
        for _ in range(2)
    ]
    yield running
    for notification in running:
        notification.close()


def test_two_concurrent_senders_on_postgresql_never_send_one_row_twice(
    account: Account, sandbox: SandboxProcess, senders: list[Notification]
) -> None:
    people = [new_person(account) for _ in range(4)]
    for person in people:
        for _ in range(MESSAGES_PER_PERSON):
            create(senders[0], outage_message(users=[person.user], channels=(SMS,)))
    sandbox.behave("delay", 0.02)  # a slow gateway keeps the claims overlapping
    attempted = [0, 0]
    start = threading.Barrier(2)

    def work(index: int) -> None:
        start.wait()
        while True:
            reply = senders[index].deliver(max_deliveries=5)
            attempted[index] += reply.attempted_count
            if reply.attempted_count == 0 and reply.remaining_count == 0:
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    total = len(people) * MESSAGES_PER_PERSON
    assert sum(attempted) == total
    assert min(attempted) > 0  # both took part
    received = [e for p in people for e in sandbox.received(p.phone)]
    assert len(received) == total
    assert len({e["key"] for e in received}) == total
    assert all(e["outcome"] == "delivered" for e in received)
