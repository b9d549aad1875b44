"""The notification service killed (SIGKILL) in the middle of a send and started again:
no message is lost and none reaches the customer twice, counted at the sandbox gateway.

The service runs as its own process (`python -m servers.notification`, as `./dev up`
starts it) with the real clock; the sandbox holds its answers, so the kill lands after
the gateway took the first SMS and before the sender learnt of it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.devup import wait_serving
from tests.account.conftest import Account, channel_as
from tests.notification.sandbox_process import ROOT, SandboxProcess, free_port
from tests.notification.support import SMS, TESTER, new_person, outage_message

CLAIM_SECONDS = 3.0


class ServiceProcess:
    """`python -m servers.notification` on a fixed port and database."""

    def __init__(self, directory: Path, account: Account, sandbox: SandboxProcess) -> None:
        self.port = free_port()
        self.account = account
        self.env = dict(os.environ)
        self.env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
                "PALMGRID_PROFILE": "dev",
                "PALMGRID_DATA_DIR": str(directory),
                "PALMGRID_LOG_LEVEL": "WARNING",
                "PALMGRID_NOTIFICATION_PORT": str(self.port),
                "PALMGRID_NOTIFICATION_DATABASE_URL": f"sqlite:///{directory / 'crash.db'}",
                "PALMGRID_ACCOUNT_TARGET": f"127.0.0.1:{account.port}",
                "PALMGRID_NOTIFICATION_SMS_GATEWAY_URL": sandbox.url,
                "PALMGRID_NOTIFICATION_PUSH_GATEWAY_URL": sandbox.url,
                "PALMGRID_NOTIFICATION_GATEWAY_TIMEOUT_SECONDS": "2",
                "PALMGRID_NOTIFICATION_CLAIM_SECONDS": str(CLAIM_SECONDS),
                # The real clock: whatever the hour, no quiet hours here.
                "PALMGRID_NOTIFICATION_QUIET_HOURS_START": "00:00",
                "PALMGRID_NOTIFICATION_QUIET_HOURS_END": "00:00",
                # The account service's table, the tests' own certificate included.
                "PALMGRID_SERVICE_ACCOUNTS": json.dumps(
                    {
                        name: row.model_dump(mode="json")
                        for name, row in account.settings.service_accounts.items()
                    }
                ),
            }
        )
        self.log = directory / "notification.log"
        self.process: subprocess.Popen[bytes] | None = None
        # The worker delivers; the tests' own certificate reads what happened.
        self.channel = channel_as(account.settings, self.port, "worker")
        self.worker = notification_service_pb2_grpc.NotificationServiceStub(self.channel)
        self.reader = channel_as(account.settings, self.port, TESTER)
        self.stub = notification_service_pb2_grpc.NotificationServiceStub(self.reader)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servers.notification"],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        credentials = self.account.settings.client_credentials("cli")
        wait_serving(f"127.0.0.1:{self.port}", credentials, 60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        self.channel.close()
        self.reader.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def service(directory: Path, account: Account, sandbox: SandboxProcess) -> Iterator[ServiceProcess]:
    running = ServiceProcess(directory, account, sandbox)
    running.start()
    yield running
    running.stop()


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_sender_killed_mid_send_loses_and_duplicates_nothing(
    account: Account, sandbox: SandboxProcess, service: ServiceProcess
) -> None:
    people = [new_person(account) for _ in range(3)]
    sender = notification_service_pb2_grpc.NotificationServiceStub(
        channel_as(account.settings, service.port, "billing")  # billing creates messages
    )
    made = [
        sender.CreateMessage(
            service_pb.CreateMessageRequest(
                message=outage_message(users=[p.user], channels=(SMS,)),
                request_id=str(uuid.uuid4()),
            ),
            timeout=10,
        )
        for p in people
    ]
    sandbox.behave("delay", 30)  # takes the SMS, holds the answer

    def deliver() -> None:
        with contextlib.suppress(grpc.RpcError):  # the process dies under it
            service.worker.DeliverDueMessages(service_pb.DeliverDueMessagesRequest(), timeout=60)

    caller = threading.Thread(target=deliver)
    caller.start()
    phones = [p.phone for p in people]
    _wait_for(lambda: any(sandbox.received(phone) for phone in phones), 20)
    service.kill()
    caller.join(10)
    [first] = [e for phone in phones for e in sandbox.received(phone)]

    sandbox.behave("accept")
    service.start()
    done = notification_pb.MESSAGE_STATE_COMPLETED

    def all_completed() -> bool:
        service.worker.DeliverDueMessages(service_pb.DeliverDueMessagesRequest(), timeout=30)
        states = [
            service.stub.GetMessage(service_pb.GetMessageRequest(name=m.name)).state for m in made
        ]
        return all(state == done for state in states)

    _wait_for(all_completed, CLAIM_SECONDS + 15)
    for phone in phones:
        assert len(sandbox.delivered(phone)) == 1  # none lost, none twice
    resent = sandbox.received(first["to"][0])
    assert [e["outcome"] for e in resent] == ["delivered", "duplicate"]
    assert resent[0]["key"] == resent[1]["key"]
    # The record shows the attempt cut short and the acknowledged resend.
    [message] = [m for m, p in zip(made, people, strict=True) if p.phone == first["to"][0]]
    [delivery] = service.stub.ListDeliveries(
        service_pb.ListDeliveriesRequest(parent=message.name)
    ).deliveries
    assert [(a.outcome, a.duplicate) for a in delivery.attempts] == [
        (notification_pb.ATTEMPT_OUTCOME_IN_FLIGHT, False),
        (notification_pb.ATTEMPT_OUTCOME_ACCEPTED, True),
    ]
