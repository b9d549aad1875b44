"""The outage tests' support: a real outage service on port 0 under mTLS beside a real
billing service (customers in areas A01–A03) and a real account service (users bound to
those customers, with their subscriptions), a clock the tests move, and signed
identities to call it as."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlmodel import col, delete, select

from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_service_pb2_grpc, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.account import models as account_models
from servers.account import users as account_users
from servers.billing.models import BalanceRow, Customer
from servers.notification import models as notification_models
from servers.outage.config import OutageConfig
from servers.outage.models import ChangeRow, NoticeRow, OutageRow
from servers.outage.process import OutageProcess
from servers.outage.service import make_spec, process_of
from servers.runtime import (
    AssertionSigner,
    Clock,
    DomainError,
    Runtime,
    SettableClock,
    Settings,
    error_from_rpc,
    load_signer,
)
from servers.runtime.identity import ensure_key_pair
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.process import open_runtime
from servers.worker.runner import Worker
from tests.account import services
from tests.neighbours import running_neighbours
from tests.tester import accounts_with_tester, ensure_pki_with_tester

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# Customer id → (area, supply office), as in the demo archive.
CUSTOMERS = {
    "3100000001": ("A01", "QJ-QL"),
    "3100000011": ("A01", "QJ-QL"),
    "3100000002": ("A02", "QJ-QL"),
    "3100000003": ("A03", "QJ-QL"),
    "3100000007": ("A07", "QJ-ZY"),
}
# User id → customers bound to them; `u-quiet` turned outage alerts off; `u-one` and
# `u-two` take SMS too (a phone and the switch on).
BINDINGS = {
    "u-one": ("3100000001",),
    "u-two": ("3100000001", "3100000011"),
    "u-other": ("3100000002",),
    "u-quiet": ("3100000001",),
    "u-far": ("3100000007",),
}
UNSUBSCRIBED = ("u-quiet",)
SMS_TAKERS = {"u-one": "13900000001", "u-two": "13900000002"}

DISPATCHER_PERMISSIONS = (
    "outage.outages.create",
    "outage.outages.update",
    "outage.outages.cancel",
    "outage.outages.restore",
    "outage.customerOutages.list",
)


def fast_config(**overrides: Any) -> OutageConfig:
    values: dict[str, Any] = {
        "demo_data": False,
        "jobs_interval_seconds": 0,
        "feed_poll_seconds": 0.1,
        "delivery_interval_seconds": 0.2,
        "watch_heartbeat_seconds": 0.5,
        **overrides,
    }
    return OutageConfig(**values)


def _fill_billing(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for number, (area, office) in CUSTOMERS.items():
            session.add(
                Customer(
                    id=number,
                    holder_name="张三明",
                    address="曲靖市麒麟区南宁西路1号",
                    supply_office=office,
                    area_code=area,
                    tariff="residential-tiered",
                    billing_mode="POSTPAID",
                    source_update_time=START,
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=number))


def _fill_account(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for user, customers in BINDINGS.items():
            session.add(
                account_models.User(
                    id=user,
                    username=user.replace("-", "x") + "user",
                    username_key=user.replace("-", "x") + "user",
                    kind=account_users.CUSTOMER,
                    state=account_users.ACTIVE,
                    coverage=account_users.COVERAGE_NONE,
                    password_hash="-",
                    password_changed_time=START,
                    phone=SMS_TAKERS.get(user),
                    create_time=START,
                    update_time=START,
                )
            )
            session.flush()
            for customer in customers:
                session.add(
                    account_models.CustomerBinding(
                        user_id=user, customer=f"customers/{customer}", create_time=START
                    )
                )
            if user in UNSUBSCRIBED or user in SMS_TAKERS:
                session.add(
                    account_models.Subscriptions(
                        user_id=user,
                        outage=user not in UNSUBSCRIBED,
                        sms=user in SMS_TAKERS,
                        update_time=START,
                    )
                )


@dataclass
class OutageSystem:
    """The outage service and its neighbours, with stubs and identities."""

    outage: services.Running
    account: services.Running
    notification: services.Running
    clock: SettableClock
    signer: AssertionSigner
    channel: grpc.Channel
    stub: outage_service_pb2_grpc.OutageServiceStub
    worker: Worker
    # The staff CLI's client credentials, for more channels to the outage service.
    credentials: grpc.ChannelCredentials

    @property
    def process(self) -> OutageProcess:
        return process_of(self.outage.runtime)

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        return [self.signer.metadata(principal, audience="outage", caller="cli")]

    def dispatcher(self, *offices: str, user: str = "users/d1") -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=user,
                username="dispatcher",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["dispatcher"],
                permissions=DISPATCHER_PERMISSIONS,
                supply_offices=offices or ("QJ-QL",),
            )
        )

    def customer(self, user: str, *customers: str) -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=f"users/{user}",
                username=user,
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                roles=["customer"],
                permissions=("outage.customerOutages.list",),
                customers=[f"customers/{c}" for c in customers],
            )
        )

    def messages(self, user: str, channel: str = "IN_APP") -> list[notification_models.DeliveryRow]:
        """The deliveries the notification outbox planned for `user` on `channel`
        (skipped repeats of an event left out), oldest first."""
        Delivery = notification_models.DeliveryRow
        with self.notification.runtime.session() as session:
            return list(
                session.exec(
                    select(Delivery)
                    .where(
                        col(Delivery.user) == f"users/{user}",
                        col(Delivery.channel) == channel,
                        col(Delivery.state) != "SKIPPED",
                    )
                    .order_by(col(Delivery.create_time), col(Delivery.id))
                ).all()
            )

    def outbox(self) -> list[notification_models.MessageRow]:
        """Every message the outbox holds, oldest first."""
        Message = notification_models.MessageRow
        with self.notification.runtime.session() as session:
            return list(session.exec(select(Message).order_by(col(Message.create_time))).all())

    def run_clock_job(self) -> str:
        """Run the worker's `outage.clock` job now (RunClockJobs over mTLS, as the
        worker); its summary. Fails when the run failed."""
        ran = self.worker.run_now("outage.clock")
        assert ran is not None, "another worker holds the job"
        outcome, message = ran
        assert outcome == "OK", message
        return message

    def deliver(self) -> int:
        """Deliver every pending notice now (the dispatcher's pass)."""
        return self.process.dispatcher.deliver_due()

    def announce(self, **fields: Any) -> resources_pb2.Outage:
        """Announce an outage as a dispatcher of QJ-QL (planned, A01, 8 days ahead)."""
        return self.stub.CreateOutage(
            outage_pb.CreateOutageRequest(
                outage=planned(self.clock, **fields), request_id=new_request_id()
            ),
            metadata=self.dispatcher(),
        )

    def reset(self) -> OutageSystem:
        with self.outage.runtime.session(write=True) as session:
            for model in (NoticeRow, ChangeRow, OutageRow):
                session.exec(delete(model))  # type: ignore[call-overload]
        with self.notification.runtime.session(write=True) as session:
            for table in (
                notification_models.EventSendRow,
                notification_models.AttemptRow,
                notification_models.DeliveryRow,
                notification_models.MessageRow,
            ):
                session.exec(delete(table))  # type: ignore[call-overload]
        self.clock.set(START)
        return self


def new_request_id() -> str:
    return str(uuid.uuid4())


def planned(clock: Clock, **fields: Any) -> resources_pb2.Outage:
    """A planned outage of A01 starting `days` (8) days from now for 6 hours (an
    unplanned one without its end), with `fields` set."""
    days = fields.pop("days", 8)
    start = clock.now() + timedelta(days=days)
    outage = resources_pb2.Outage(
        kind=resources_pb2.OUTAGE_KIND_PLANNED,
        area_codes=["A01"],
        reason="线路检修",
        supply_office="QJ-QL",
    )
    outage.start_time.FromDatetime(start)
    if fields.get("kind", resources_pb2.OUTAGE_KIND_PLANNED) == resources_pb2.OUTAGE_KIND_PLANNED:
        outage.end_time.FromDatetime(start + timedelta(hours=6))
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(outage, name)[:]
            getattr(outage, name).extend(value)
        elif isinstance(value, datetime):
            getattr(outage, name).FromDatetime(value)
        else:
            setattr(outage, name, value)
    return outage


# The tests' own certificate: a caller of the outage list other services may use, and
# the administrator who changes the notice period (every process holds its real row).
TESTER_ACCOUNTS = accounts_with_tester("outage.areaOutages.list", "account.systemParameters.update")


@contextmanager
def outage_system(
    data_dir: Path,
    database_url: str,
    *,
    gateway_url: str = "http://127.0.0.1:1",
    **config: Any,
) -> Iterator[OutageSystem]:
    """Billing, account, notification (its gateways at `gateway_url`) and outage under
    mTLS, all on one settable clock; outage on `database_url`."""
    ensure_pki_with_tester(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    common: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "log_level": "WARNING",
        "memcached_servers": ("127.0.0.1:1",),
        "service_accounts": TESTER_ACCOUNTS,
    }
    clock = SettableClock(START)
    with ExitStack() as stack:
        neighbours = stack.enter_context(
            running_neighbours(data_dir, common, clock, gateway_url=gateway_url)
        )
        billing, account, notification = (
            neighbours.billing,
            neighbours.account,
            neighbours.notification,
        )
        _fill_billing(billing.runtime)
        _fill_account(account.runtime)
        settings = Settings(
            **common,
            outage_database_url=database_url,
            billing_target=billing.target,
            account_target=account.target,
            notification_target=notification.target,
        )
        outage = services.start(
            "outage", settings, make_spec(clock=clock, config=fast_config(**config))
        )
        stack.callback(services.stop, outage)
        worker_config = WorkerConfig(call_timeout_seconds=10)
        worker_runtime = open_runtime(
            Settings(**common, outage_target=outage.target), worker_config
        )
        stack.callback(worker_runtime.close)
        worker = Worker(worker_runtime, worker_config, load_jobs(), clock)
        worker.store.sync(worker.schedules)
        credentials = settings.client_credentials("cli")
        assert credentials is not None
        channel = grpc.secure_channel(outage.target, credentials)
        stack.callback(channel.close)
        yield OutageSystem(
            outage=outage,
            account=account,
            notification=notification,
            clock=clock,
            signer=load_signer(settings.identity_dir, settings.identity_key_id),
            channel=channel,
            stub=outage_service_pb2_grpc.OutageServiceStub(channel),
            worker=worker,
            credentials=credentials,
        )


def fails(call: Callable[[], Any]) -> DomainError:
    """The error `call` fails with, read back as the runtime's class."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return error_from_rpc(caught.value)
