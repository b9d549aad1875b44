"""Support of the feedback tests: the services care calls over mTLS, each real and
in-process: billing holding a few customers (their supply offices), account holding the
people (assignees' offices; the authors a message reaches) and notification (the outbox
the authors' messages land in); and the people who give and handle feedback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.notification.v1 import notification_service_pb2 as notification_pb
from palmgrid.notification.v1 import notification_service_pb2_grpc as notification_grpc
from palmgrid.notification.v1 import resources_pb2 as message_pb
from palmgrid.type.v1 import identity_pb2
from servers.account import models as account_models
from servers.account import users as account_users
from servers.account.config import AccountConfig
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.billing.models import BalanceRow, Customer
from servers.billing.service import make_spec as billing_spec
from servers.notification.config import NotificationConfig
from servers.notification.service import make_spec as notification_spec
from servers.runtime import Runtime, ServiceSpec, Settings, build_server
from servers.runtime.identity import ensure_key_pair
from tests.audit_log import with_audit_log
from tests.care.support import CUSTOMER_PERMISSIONS, CareServer
from tests.tester import TESTER, accounts_with_tester, ensure_pki_with_tester

# Customer id → supply office (the demo archive's offices).
CUSTOMERS = {"3100000001": "QJ-QL", "3100000002": "QJ-QL", "3100000006": "QJ-ZY"}
# Account users: customers, and staff with the offices they cover ("*": every one);
# `gone` is disabled.
AUTHORS = ("alice", "bob")
STAFF = {"ql1": ["QJ-QL"], "zy1": ["QJ-ZY"], "lead": ["QJ-QL", "QJ-ZY"], "boss": ["*"]}
DISABLED_STAFF = {"gone": ["QJ-QL"]}
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
# The notification service's accounts: the tests' certificate may list its outbox.
OUTBOX_READER = accounts_with_tester("notification.messages.list")
AGENT_PERMISSIONS = (
    "care.feedback.create",
    "care.feedback.list",
    "care.feedback.get",
    "care.feedback.assign",
    "care.feedback.reply",
    "care.feedback.resolve",
    "care.feedback.close",
)


def prepare_data_dir(directory: Path) -> Path:
    """Key material for mTLS between care and billing and for assertions (and the
    tests' own certificate, which reads the notification outbox back)."""
    ensure_pki_with_tester(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    return directory


def _settings(data_dir: Path, **values: Any) -> Settings:
    return Settings(data_dir=data_dir, grpc_security="mtls", log_level="WARNING", **values)


@contextmanager
def _serving(
    spec: ServiceSpec, settings: Settings, fill: Callable[[Runtime], None]
) -> Iterator[str]:
    """`spec` on port 0 with `fill` run on its database first; yields its target."""
    server, port, runtime = build_server(spec, settings, address="127.0.0.1:0")
    fill(runtime)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)
        runtime.close()


def _fill_billing(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for number, office in CUSTOMERS.items():
            session.add(
                Customer(
                    id=number,
                    holder_name="张三明",
                    address="曲靖市麒麟区南宁西路1号",
                    supply_office=office,
                    area_code="A01",
                    tariff="residential-tiered",
                    billing_mode="POSTPAID",
                    source_update_time=SINCE,
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=number))


def _user(user_id: str, kind: int, state: int, offices: list[str]) -> account_models.User:
    if offices == ["*"]:
        coverage, offices = account_users.COVERAGE_ALL, []
    else:
        coverage = account_users.COVERAGE_LISTED if offices else account_users.COVERAGE_NONE
    return account_models.User(
        id=user_id,
        username=f"{user_id}user",
        username_key=f"{user_id}user",
        kind=kind,
        state=state,
        coverage=coverage,
        supply_offices=offices,
        password_hash="-",
        password_changed_time=SINCE,
        create_time=SINCE,
        update_time=SINCE,
    )


def _fill_account(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for author in AUTHORS:
            session.add(_user(author, account_users.CUSTOMER, account_users.ACTIVE, []))
        for name, offices in STAFF.items():
            session.add(_user(name, account_users.STAFF, account_users.ACTIVE, offices))
        for name, offices in DISABLED_STAFF.items():
            session.add(_user(name, account_users.STAFF, account_users.DISABLED, offices))


@contextmanager
def running_billing(data_dir: Path) -> Iterator[str]:
    """A billing service (no demo data) holding CUSTOMERS; yields its target."""
    settings = _settings(data_dir, billing_database_url=f"sqlite:///{data_dir / 'billing.db'}")
    spec = with_audit_log(billing_spec(BillingConfig(demo_data=False)))
    with _serving(spec, settings, _fill_billing) as target:
        yield target


@contextmanager
def running_account(data_dir: Path) -> Iterator[str]:
    """An account service (no demo data) holding AUTHORS and STAFF; yields its target."""
    settings = _settings(data_dir, account_database_url=f"sqlite:///{data_dir / 'account.db'}")
    config = AccountConfig(
        demo_data=False, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
    )
    with _serving(account_spec(config=config), settings, _fill_account) as target:
        yield target


@contextmanager
def running_notification(data_dir: Path, account_target: str) -> Iterator[str]:
    """A notification service whose recipients come from `account_target`; nothing
    delivers from its outbox (the tests read the outbox itself)."""
    settings = _settings(
        data_dir,
        notification_database_url=f"sqlite:///{data_dir / 'notification.db'}",
        account_target=account_target,
        service_accounts=OUTBOX_READER,
    )
    with _serving(
        notification_spec(config=NotificationConfig()), settings, lambda runtime: None
    ) as target:
        yield target


@dataclass(frozen=True)
class Neighbours:
    """The targets of the services care calls."""

    billing: str
    account: str
    notification: str


def outbox(data_dir: Path, notification_target: str, target: str) -> list[message_pb.Message]:
    """The feedback messages in the notification outbox about `target`
    (`feedback/{id}`), oldest first, read over its API with the tests' certificate."""
    credentials = _settings(data_dir).client_credentials(TESTER)
    assert credentials is not None
    with grpc.secure_channel(notification_target, credentials) as channel:
        stub = notification_grpc.NotificationServiceStub(channel)
        reply = stub.ListMessages(
            notification_pb.ListMessagesRequest(topic=account_pb.TOPIC_FEEDBACK, page_size=1000)
        )
    return [m for m in reversed(reply.messages) if m.target == target]


@dataclass
class People:
    """Identities calling a care server."""

    care: CareServer

    def customer(self, user: str, *customers: str) -> list[tuple[str, bytes]]:
        return self.care.as_(
            identity_pb2.Principal(
                user=user,
                username=user.removeprefix("users/"),
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                roles=["customer"],
                permissions=CUSTOMER_PERMISSIONS,
                customers=[f"customers/{c}" for c in customers],
            )
        )

    def agent(self, user: str, *offices: str, everywhere: bool = False) -> list[tuple[str, bytes]]:
        return self.care.as_(
            identity_pb2.Principal(
                user=user,
                username=user.removeprefix("users/"),
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["agent"],
                permissions=AGENT_PERMISSIONS,
                supply_offices=offices,
                all_supply_offices=everywhere,
            )
        )
