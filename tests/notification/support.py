"""The notification tests' system: the real account service and the real notification
service on port 0 over mTLS (in-process, each with a clock the tests move), and the
sandbox gateway as its own process. Recipients are real account users: registered,
signed in with a push token, subscribed to SMS and push; their customer bindings are
written into the account database directly (binding through the API would need
billing, which these tests are not about)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from palmgrid.account.v1 import account_service_customer_requests_pb2 as customer_pb
from palmgrid.account.v1 import account_service_pb2
from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as service_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc
from palmgrid.notification.v1 import resources_pb2 as notification_pb
from servers.account import models as account_models
from servers.account.service import make_spec as account_spec
from servers.notification.config import NotificationConfig
from servers.notification.service import make_spec
from servers.runtime import Runtime, Server, SettableClock, Settings, build_server
from servers.runtime.identity import ensure_key_pair
from tests.account.conftest import FAST_ARGON2, Account, base_settings, channel_as
from tests.tester import TESTER, accounts_with_tester, ensure_pki_with_tester

# A Monday, 10:00 in China Standard Time: outside quiet hours.
DAYTIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
IN_APP = account_pb.DELIVERY_CHANNEL_IN_APP
SMS = account_pb.DELIVERY_CHANNEL_SMS
PUSH = account_pb.DELIVERY_CHANNEL_PUSH
_numbers = itertools.count(1)
NotificationStub = notification_service_pb2_grpc.NotificationServiceStub


def fast_config(sandbox_url: str, **overrides: Any) -> NotificationConfig:
    """Settings for tests: the sandbox for both gateways, short timeouts and claims."""
    values: dict[str, Any] = {
        "sms_gateway_url": sandbox_url,
        "push_gateway_url": sandbox_url,
        "gateway_timeout_seconds": 2.0,
        "claim_seconds": 5.0,
        "retry_base_seconds": 10.0,
        "retry_max_seconds": 60.0,
        "max_attempts": 4,
        **overrides,
    }
    return NotificationConfig(**values)


# The tests' own certificate: it creates, reads and cancels messages as the services
# that will do so (every process holds its real row: billing creates, the worker
# delivers).
TESTER_ACCOUNTS = accounts_with_tester(
    "notification.messages.create",
    "notification.messages.get",
    "notification.messages.list",
    "notification.messages.cancel",
    "notification.deliveries.list",
)


def start_account(directory: Path, **overrides: Any) -> Account:
    """The account service on port 0 over mTLS (keys and dev PKI in `directory`)."""
    ensure_pki_with_tester(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    settings = base_settings(
        directory,
        f"sqlite:///{directory / 'account.db'}",
        **{"service_accounts": TESTER_ACCOUNTS, **overrides},
    )
    clock = SettableClock(DAYTIME)
    server, port, runtime = build_server(
        account_spec(clock=clock, config=FAST_ARGON2), settings, address="127.0.0.1:0"
    )
    server.start()
    return Account(server, port, runtime, settings, clock)


def notification_settings(account: Account, database_url: str) -> Settings:
    return account.settings.model_copy(
        update={
            "account_target": f"127.0.0.1:{account.port}",
            "notification_database_url": database_url,
        }
    )


@dataclass
class Notification:
    """A notification server on port 0 and a caller of it."""

    server: Server
    port: int
    runtime: Runtime
    clock: SettableClock
    channels: dict[str, grpc.Channel] = field(default_factory=dict)
    settings: Settings | None = None

    def stub(self, as_account: str = TESTER) -> NotificationStub:
        """The service called with `as_account`'s certificate (a service account)."""
        assert self.settings is not None
        if as_account not in self.channels:
            self.channels[as_account] = channel_as(self.settings, self.port, as_account)
        return notification_service_pb2_grpc.NotificationServiceStub(self.channels[as_account])

    def deliver(self, max_deliveries: int = 0) -> service_pb.DeliverDueMessagesResponse:
        """One DeliverDueMessages call, as the worker makes it."""
        return self.stub("worker").DeliverDueMessages(
            service_pb.DeliverDueMessagesRequest(max_deliveries=max_deliveries), timeout=30
        )

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.server.stop(0)
        self.runtime.close()


def start_notification(
    account: Account, database_url: str, config: NotificationConfig, clock: SettableClock
) -> Notification:
    settings = notification_settings(account, database_url)
    server, port, runtime = build_server(
        make_spec(clock=clock, config=config), settings, address="127.0.0.1:0"
    )
    server.start()
    return Notification(server, port, runtime, clock, settings=settings)


@dataclass(frozen=True)
class Person:
    """A recipient: user name, phone number and push token."""

    user: str
    phone: str
    push_token: str


def new_person(account: Account, *customers: str, sms: bool = True, push: bool = True) -> Person:
    """A registered user with a phone, signed in on a device with a push token,
    subscribed as told, bound to `customers` (10-digit numbers)."""
    number = next(_numbers)
    username = "recipient" + "".join(chr(97 + int(d)) for d in f"{number:04d}")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    user = account.register(username, phone=phone)
    session = account.login(username)
    metadata = account.metadata(session.token)
    token = f"device-{uuid.uuid4().hex}"
    account.public.UpdateSession(
        account_service_pb2.UpdateSessionRequest(
            session=account_pb.Session(name="sessions/current", push_token=token),
            update_mask={"paths": ["push_token"]},
        ),
        metadata=metadata,
    )
    account.public.UpdateSubscriptions(
        customer_pb.UpdateSubscriptionsRequest(
            subscriptions=account_pb.Subscriptions(
                name="users/me/subscriptions", outage=True, sms=sms, push=push
            ),
            update_mask={"paths": ["outage", "sms", "push"]},
        ),
        metadata=metadata,
    )
    user_id = user.name.removeprefix("users/")
    with account.runtime.session(write=True) as session:
        for customer in customers:
            session.add(
                account_models.CustomerBinding(
                    user_id=user_id, customer=f"customers/{customer}", create_time=DAYTIME
                )
            )
    return Person(user.name, phone, token)


def outage_message(
    *,
    customers: list[str] = (),  # type: ignore[assignment]
    users: list[str] = (),  # type: ignore[assignment]
    channels: tuple[int, ...] = (IN_APP, SMS, PUSH),
    urgent: bool = False,
    **extra: Any,
) -> notification_pb.Message:
    """A planned (or, urgent, unplanned) outage message to customers or users."""
    if urgent:
        template = "outage.unplanned"
        parameters = {"reason": "线路故障", "restore": "今日18:00"}
    else:
        template = "outage.planned"
        parameters = {"start": "3月9日08:00", "end": "3月9日18:00", "reason": "线路检修"}
    if not customers:
        parameters["customer"] = "3100009999"  # named by the sender; masked all the same
    return notification_pb.Message(
        topic=account_pb.TOPIC_OUTAGE,
        template=template,
        parameters=parameters,
        channels=list(channels),
        customers=[f"customers/{c}" for c in customers],
        users=list(users),
        priority=notification_pb.PRIORITY_URGENT if urgent else notification_pb.PRIORITY_NORMAL,
        **extra,
    )


def create(
    notification: Notification, message: notification_pb.Message, request_id: str | None = None
) -> notification_pb.Message:
    return notification.stub().CreateMessage(
        service_pb.CreateMessageRequest(
            message=message, request_id=request_id or str(uuid.uuid4())
        ),
        timeout=10,
    )


def deliveries(notification: Notification, message: str) -> list[notification_pb.Delivery]:
    reply = notification.stub().ListDeliveries(
        service_pb.ListDeliveriesRequest(parent=message, page_size=1000), timeout=10
    )
    return list(reply.deliveries)


def deliver_all(notification: Notification, rounds: int = 10) -> None:
    """Call DeliverDueMessages until nothing is due."""
    for _ in range(rounds):
        if notification.deliver().remaining_count == 0:
            return
    raise AssertionError("deliveries still due")
