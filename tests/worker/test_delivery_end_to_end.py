"""Messages from CreateMessage through the worker to the SMS and push gateway, every
part a real process or server: the account and notification services over mTLS (dev
PKI; notification on PostgreSQL, with the wall clock), the sandbox gateway as its own
process (`python -m servers.notification.sandbox`) and workers as `./dev up` starts
them (`python -m servers.worker`), running only `notification.delivery`, every second.
Whatever happens to the workers, each message reaches the gateway exactly once:
counted there, by idempotency key and by recipient."""

from __future__ import annotations

import itertools
import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.notification.models import AttemptRow
from servers.notification.service import make_spec
from servers.runtime import SYSTEM_CLOCK, build_server, create_engine, session_scope
from servers.worker.models import OK, JobRow, JobRunRow
from servers.worker.store import INTERRUPTED
from tests.account.conftest import Account, channel_as
from tests.notification.sandbox_process import SandboxProcess
from tests.notification.support import (
    PUSH,
    SMS,
    TESTER,
    NotificationStub,
    Person,
    fast_config,
    new_person,
    notification_settings,
    outage_message,
    start_account,
)
from tests.postgres import postgres_schema
from tests.worker.support import process_env, start_worker, stop, wait_until

pytestmark = pytest.mark.postgres

JOB = "notification.delivery"
# A send waits this long for the gateway; a call sends only while this and a second
# to answer are left of its deadline (on a loaded machine handing back what it did
# not send may take seconds of that).
GATEWAY_TIMEOUT_SECONDS = 4.0
# A delivery claimed by a caller that died is due again this soon (longer than a
# send may last); a failed attempt is tried again after 1 s.
CLAIM_SECONDS = 5.0
# A killed worker's job is free again this soon.
LEASE_SECONDS = 2
_ATTEMPTED = re.compile(r"^(\d+) attempted, ")


class System:
    """The account service, the sandbox gateway process and the notification service
    (in-process, port 0); messages are created and read with the tests' own
    certificate (TESTER), as the services that create them would."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.account: Account = start_account(directory)
        (directory / "sandbox").mkdir()
        self.sandbox = SandboxProcess(directory / "sandbox").start()
        config = fast_config(
            self.sandbox.url,
            gateway_timeout_seconds=GATEWAY_TIMEOUT_SECONDS,
            claim_seconds=CLAIM_SECONDS,
            retry_base_seconds=1.0,
            retry_max_seconds=2.0,
            # The wall clock: whatever the hour, no quiet hours here.
            quiet_hours_start="00:00",
            quiet_hours_end="00:00",
        )
        settings = notification_settings(self.account, database_url)
        self.server, self.port, self.runtime = build_server(
            make_spec(clock=SYSTEM_CLOCK, config=config), settings, address="127.0.0.1:0"
        )
        self.server.start()
        self.channel = channel_as(settings, self.port, TESTER)
        self.stub = NotificationStub(self.channel)

    def people(self, count: int) -> list[Person]:
        """New users subscribed to SMS and push, each with a phone and a push token."""
        return [new_person(self.account) for _ in range(count)]

    def create(self, people: list[Person], each: int = 1) -> list[str]:
        """`each` messages (SMS and push) to every one of `people`; their names."""
        names = []
        for person, _ in itertools.product(people, range(each)):
            message = outage_message(users=[person.user], channels=(SMS, PUSH))
            request = service_pb.CreateMessageRequest(message=message, request_id=str(uuid4()))
            names.append(self.stub.CreateMessage(request, timeout=10).name)
        return names

    def completed(self, messages: list[str]) -> bool:
        """Every one of `messages` is COMPLETED (each delivery final)."""
        return all(
            self.stub.GetMessage(service_pb.GetMessageRequest(name=name), timeout=10).state
            == notification_pb.MESSAGE_STATE_COMPLETED
            for name in messages
        )

    def worker_env(self, database_url: str) -> dict[str, str]:
        """A worker running notification delivery only, every second, against this
        service over mTLS, with its job state in `database_url`."""
        return process_env(
            self.directory,
            PALMGRID_PROFILE="dev",
            PALMGRID_GRPC_SECURITY="mtls",
            PALMGRID_NOTIFICATION_TARGET=f"127.0.0.1:{self.port}",
            PALMGRID_WORKER_DATABASE_URL=database_url,
            PALMGRID_WORKER_JOBS=JOB,
            PALMGRID_WORKER_SCHEDULES=json.dumps({JOB: "every 1s"}),
            PALMGRID_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        )

    def close(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.runtime.close()
        self.sandbox.stop()
        self.account.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[System]:
    """The module's servers; the notification service's tables in a schema of their own."""
    with postgres_schema(postgres_database, "delivery_e2e") as url:
        running = System(tmp_path_factory.mktemp("delivery"), url)
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(autouse=True)
def accepting(system: System) -> None:
    """Each test starts with the gateway accepting at once."""
    system.sandbox.behave("accept")


def gateway_received(sandbox: SandboxProcess, people: list[Person]) -> list[dict[str, Any]]:
    """Every send the gateway received for `people`, SMS and push."""
    return [e for p in people for to in (p.phone, p.push_token) for e in sandbox.received(to)]


def assert_delivered_once(sandbox: SandboxProcess, people: list[Person], each: int = 1) -> None:
    """Each of `people` got `each` SMS and `each` push at the gateway, each under a key
    of its own and delivered once; anything else it received was a resend under a
    delivered key, acknowledged as a duplicate and not delivered again."""
    for person in people:
        assert len(sandbox.delivered(person.phone)) == each
        assert len(sandbox.delivered(person.push_token)) == each
    received = gateway_received(sandbox, people)
    delivered = [e["key"] for e in received if e["outcome"] == "delivered"]
    assert len(delivered) == len(set(delivered)) == 2 * each * len(people)
    resent = [e for e in received if e["outcome"] != "delivered"]
    assert all(e["outcome"] == "duplicate" and e["key"] in delivered for e in resent)


def job_runs(database_url: str) -> list[JobRunRow]:
    """The worker's records of the delivery job's runs, in order."""
    engine = create_engine(database_url)
    try:
        with session_scope(engine) as session:
            query = select(JobRunRow).where(JobRunRow.job == JOB).order_by(col(JobRunRow.id))
            return list(session.exec(query).all())
    finally:
        engine.dispose()


def job_holder(database_url: str) -> int:
    """The pid of the worker holding the delivery job's lease, 0 when none does."""
    engine = create_engine(database_url)
    try:
        with session_scope(engine) as session:
            row = session.get(JobRow, JOB)
            return worker_pid(row.lease_owner) if row and row.lease_owner else 0
    finally:
        engine.dispose()


def worker_pid(worker: str) -> int:
    """The pid in a worker id (host:pid:random)."""
    return int(worker.split(":")[1])


def runs_by_others(database_url: str, worker: int) -> list[JobRunRow]:
    """The delivery job's runs by workers other than pid `worker`, in order."""
    return [run for run in job_runs(database_url) if worker_pid(run.worker) != worker]


def claims_since(system: System, runs: list[JobRunRow]) -> bool:
    """Whether a delivery was claimed after the first of `runs` started (no run: no)."""
    if not runs:
        return False
    with system.runtime.session() as session:
        claimed = session.exec(
            select(func.count()).where(col(AttemptRow.start_time) >= runs[0].start_time)
        ).one()
    return claimed > 0


def attempted(runs: list[JobRunRow]) -> int:
    """Deliveries the OK runs attempted, from their outcome messages."""
    counts = [_ATTEMPTED.match(run.message) for run in runs if run.outcome == OK]
    return sum(int(match.group(1)) for match in counts if match)


def test_the_worker_delivers_each_created_message_once(system: System, tmp_path: Path) -> None:
    people = system.people(4)
    messages = system.create(people)
    worker_db = f"sqlite:///{tmp_path / 'worker.db'}"
    worker = start_worker(system.worker_env(worker_db), tmp_path / "worker.log")
    try:
        wait_until(lambda: system.completed(messages), 90, "every message completed")
    finally:
        stop(worker)
    assert_delivered_once(system.sandbox, people)
    assert all(e["outcome"] == "delivered" for e in gateway_received(system.sandbox, people))
    # The worker made every send, and each once.
    assert attempted(job_runs(worker_db)) == 2 * len(people)


def test_a_worker_killed_mid_send_and_restarted_loses_and_duplicates_nothing(
    system: System, tmp_path: Path
) -> None:
    people = system.people(3)
    messages = system.create(people)
    # The gateway takes the first send and holds its answer: the worker's
    # DeliverDueMessages call is in flight when the worker dies.
    system.sandbox.behave("delay", 30)
    worker_db = f"sqlite:///{tmp_path / 'worker.db'}"
    env = system.worker_env(worker_db)
    first = start_worker(env, tmp_path / "first.log")
    try:
        wait_until(lambda: gateway_received(system.sandbox, people), 60, "the first send")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    [held] = gateway_received(system.sandbox, people)
    system.sandbox.behave("accept")
    # The service ends the held send (timed out: a failed attempt, due again in 1 s)
    # and, its caller gone, hands the rest back; a new worker takes the job once the
    # dead one's lease lapses and sends what is due, the held one under the same key.
    second = start_worker(env, tmp_path / "second.log")
    try:
        wait_until(lambda: system.completed(messages), 90, "every message completed")
    finally:
        stop(second)
    assert_delivered_once(system.sandbox, people)
    resent = [e["outcome"] for e in system.sandbox.received() if e["key"] == held["key"]]
    assert resent == ["delivered", "duplicate"]
    assert len(gateway_received(system.sandbox, people)) == 2 * len(people) + 1
    runs = job_runs(worker_db)
    assert runs[0].outcome == INTERRUPTED and f":{first.pid}:" in runs[0].message
    assert {run.outcome for run in runs[1:]} == {OK}


def test_two_workers_on_postgresql_send_each_message_once(
    system: System, tmp_path: Path, postgres_url: str
) -> None:
    people = system.people(6)
    messages = system.create(people, each=3)
    # A slow gateway: the due sends (36 × 0.5 s) take longer than a worker waits for
    # one call and longer than a claim lasts, so each call sends part and hands the rest
    # back. The call timeout leaves a loaded machine room to claim before sending, and
    # the paused worker's call room to outlast the pause (else it ends
    # DEADLINE_EXCEEDED, a FAILED run that says nothing of the service).
    system.sandbox.behave("delay", 0.5)
    env = {**system.worker_env(postgres_url), "PALMGRID_WORKER_CALL_TIMEOUT_SECONDS": "16"}
    workers = {}
    for index in range(2):
        worker = start_worker(env, tmp_path / f"worker{index}.log")
        workers[worker.pid] = worker
    try:
        wait_until(lambda: gateway_received(system.sandbox, people), 60, "the first send")
        # The worker running the job pauses, mid-call, past its lease: the other takes
        # the job over, and the first, let go on, ends its call and learns it lost it.
        holders: list[int] = []
        wait_until(
            lambda: holders.append(job_holder(postgres_url)) or holders[-1] != 0,
            60,
            "a worker running the job",
        )
        paused = holders[-1]
        workers[paused].send_signal(signal.SIGSTOP)
        before = len(runs_by_others(postgres_url, paused))
        try:
            # Until the other worker, in a run since the pause, has claimed deliveries
            # (once the paused call's claims lapsed or it handed them back): it sends
            # those. Its first run may find every delivery still claimed and end with
            # none, and then the first worker might run the job to the end.
            wait_until(
                lambda: claims_since(system, runs_by_others(postgres_url, paused)[before:]),
                60,
                "a takeover that claims deliveries",
            )
        finally:
            workers[paused].send_signal(signal.SIGCONT)
        wait_until(lambda: system.completed(messages), 90, "every message completed")
    finally:
        for worker in workers.values():
            stop(worker)
    assert_delivered_once(system.sandbox, people, each=3)
    # Not even resent: claims kept each row to one sender.
    assert all(e["outcome"] == "delivered" for e in gateway_received(system.sandbox, people))
    runs = job_runs(postgres_url)
    assert {run.outcome for run in runs} == {OK}
    assert attempted(runs) == 2 * 3 * len(people)
    assert {worker_pid(run.worker) for run in runs if attempted([run])} == set(workers)
