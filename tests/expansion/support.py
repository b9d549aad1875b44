"""The expansion tests' support: a real expansion service on port 0 under mTLS beside
real billing (customers of both demo offices), account (applicants with their
subscriptions, connection staff of each office) and notification services, a worker
runtime for the reminder job, one settable clock for all, and signed identities."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlmodel import col, delete, select

from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as internal_grpc
from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import expansion_service_pb2_grpc, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.account import models as account_models
from servers.account import users as account_users
from servers.billing.models import BalanceRow, Customer
from servers.expansion import models
from servers.expansion.config import ExpansionConfig
from servers.expansion.limits import install_defaults
from servers.expansion.service import make_spec
from servers.notification import models as notification_models
from servers.runtime import (
    AssertionSigner,
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
from tests.neighbours import start_neighbours
from tests.tester import ensure_pki_with_tester

# Monday 2 March 2026, 08:00 in China: a plain working week ahead.
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)

# Customer id → (area, supply office), as in the demo archive.
CUSTOMERS = {"3100000001": ("A01", "QJ-QL"), "3100000007": ("A07", "QJ-ZY")}
# Applicants: `u-app` follows application progress (the default), `u-quiet` turned it off.
APPLICANTS = {"u-app": ("3100000001",), "u-quiet": ()}
UNSUBSCRIBED = ("u-quiet",)
# Connection staff (role `expander`) and the offices they cover.
STAFF = {"s-ql": "QJ-QL", "s-ql2": "QJ-QL", "s-zy": "QJ-ZY"}

APPLICANT_PERMISSIONS = (
    "expansion.applications.create",
    "expansion.applications.list",
    "expansion.applications.get",
    "expansion.applications.resume",
    "expansion.attachments.create",
    "expansion.attachments.list",
    "expansion.attachments.get",
    "expansion.attachments.delete",
)
EXPANDER_PERMISSIONS = (
    "expansion.attachments.create",
    "expansion.attachments.list",
    "expansion.attachments.get",
    "expansion.attachments.delete",
    "expansion.applications.create",
    "expansion.applications.list",
    "expansion.applications.get",
    "expansion.applications.advance",
    "expansion.applications.reject",
    "expansion.applications.sendBack",
    "expansion.applications.resume",
    "expansion.applications.assign",
    "expansion.applications.listDue",
    "expansion.nodeTimeLimits.list",
)
ADMIN_PERMISSIONS = ("expansion.nodeTimeLimits.list", "expansion.nodeTimeLimits.update")


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


def _user(user: str, kind: int, coverage: int, offices: list[str]) -> account_models.User:
    return account_models.User(
        id=user,
        username=user.replace("-", "x") + "user",
        username_key=user.replace("-", "x") + "user",
        kind=kind,
        state=account_users.ACTIVE,
        coverage=coverage,
        supply_offices=offices,
        password_hash="-",
        password_changed_time=START,
        create_time=START,
        update_time=START,
    )


def _fill_account(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for user, customers in APPLICANTS.items():
            session.add(_user(user, account_users.CUSTOMER, account_users.COVERAGE_NONE, []))
            session.flush()
            for customer in customers:
                session.add(
                    account_models.CustomerBinding(
                        user_id=user, customer=f"customers/{customer}", create_time=START
                    )
                )
            if user in UNSUBSCRIBED:
                session.add(
                    account_models.Subscriptions(
                        user_id=user, application_progress=False, update_time=START
                    )
                )
        for user, office in STAFF.items():
            session.add(_user(user, account_users.STAFF, account_users.COVERAGE_LISTED, [office]))
            session.flush()
            session.add(account_models.UserRole(user_id=user, role_id="expander"))


@dataclass
class ExpansionSystem:
    """The expansion service and its neighbours, with stubs and identities."""

    expansion: services.Running
    notification: services.Running
    clock: SettableClock
    signer: AssertionSigner
    # The staff CLI's channel to the expansion service, and its stub.
    channel: grpc.Channel
    stub: expansion_service_pb2_grpc.ExpansionServiceStub
    # ExpansionInternalService as the worker's certificate.
    internal: internal_grpc.ExpansionInternalServiceStub
    workers: tuple[Worker, Worker]

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        return [self.signer.metadata(principal, audience="expansion", caller="cli")]

    def applicant(self, user: str = "u-app", *customers: str) -> list[tuple[str, bytes]]:
        bound = customers or APPLICANTS.get(user, ())
        return self.as_(
            identity_pb2.Principal(
                user=f"users/{user}",
                username=user,
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                roles=["customer"],
                permissions=APPLICANT_PERMISSIONS,
                customers=[f"customers/{c}" for c in bound],
            )
        )

    def expander(self, user: str = "s-ql") -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=f"users/{user}",
                username=user,
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["expander"],
                permissions=EXPANDER_PERMISSIONS,
                supply_offices=[STAFF[user]],
            )
        )

    def admin(self) -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user="users/admin",
                username="admin",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["admin"],
                permissions=ADMIN_PERMISSIONS,
                all_supply_offices=True,
            )
        )

    def file(
        self, kind: int = resources_pb2.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL, **fields: Any
    ) -> resources_pb2.Application:
        """File an application as `u-app` (area A01 unless `fields` say otherwise)."""
        metadata = fields.pop("metadata", None) or self.applicant()
        request_id = fields.pop("request_id", new_request_id())
        return self.stub.CreateApplication(
            service_pb.CreateApplicationRequest(
                application=application(kind, **fields), request_id=request_id
            ),
            metadata=metadata,
        )

    def advance(self, name: str, note: str = "办结", **fields: Any) -> resources_pb2.Application:
        """Advance the current node of `name` as `s-ql` (or as `metadata` says)."""
        metadata = fields.pop("metadata", None) or self.expander()
        return self.stub.AdvanceApplication(
            service_pb.AdvanceApplicationRequest(name=name, note=note, **fields),
            metadata=metadata,
        )

    def messages(self, user: str, template: str) -> list[notification_models.MessageRow]:
        """The outbox's messages of `template` planned for `user` (skipped repeats left
        out), oldest first."""
        Message = notification_models.MessageRow
        Delivery = notification_models.DeliveryRow
        with self.notification.runtime.session() as session:
            planned = select(Delivery.message_id).where(
                col(Delivery.user) == f"users/{user}", col(Delivery.state) != "SKIPPED"
            )
            return list(
                session.exec(
                    select(Message)
                    .where(col(Message.template) == template, col(Message.id).in_(planned))
                    .order_by(col(Message.create_time), col(Message.id))
                ).all()
            )

    def reset(self) -> ExpansionSystem:
        with self.expansion.runtime.session(write=True) as session:
            for model in (
                models.AttachmentRow,
                models.BlobRow,
                models.ReminderRow,
                models.EventRow,
                models.NodeRow,
                models.ApplicationRow,
                models.NodeLimitRow,
            ):
                session.exec(delete(model))  # type: ignore[call-overload]
        install_defaults(self.expansion.runtime, START)
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


def application(kind: int, **fields: Any) -> resources_pb2.Application:
    """An application of `kind` for the premises at A01 with `fields` set."""
    values: dict[str, Any] = {
        "kind": kind,
        "applicant": resources_pb2.Applicant(
            name="李四光", id_number="53030219800101123X", contact_phone="13800001234"
        ),
        "address": "曲靖市麒麟区南宁西路8号",
        "area_code": "A01",
        "capacity_kva": 8,
        **fields,
    }
    return resources_pb2.Application(**values)


@contextmanager
def expansion_system(
    data_dir: Path, database_url: str, *, config: ExpansionConfig | None = None
) -> Iterator[ExpansionSystem]:
    """Billing, account, notification (no gateway reached: nothing is delivered) and
    expansion under mTLS, all on one settable clock; expansion on `database_url`."""
    ensure_pki_with_tester(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    common: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "log_level": "WARNING",
        "memcached_servers": ("127.0.0.1:1",),
    }
    clock = SettableClock(START)
    with ExitStack() as stack:
        near = start_neighbours(
            stack, data_dir, common, clock, fill_billing=_fill_billing, fill_account=_fill_account
        )
        notification = near.notification
        settings = Settings(**common, expansion_database_url=database_url, **near.targets())
        expansion = services.start(
            "expansion",
            settings,
            make_spec(clock=clock, config=config or ExpansionConfig(demo_data=False)),
        )
        stack.callback(services.stop, expansion)
        worker_config = WorkerConfig(call_timeout_seconds=10)
        worker_runtime = open_runtime(
            Settings(**common, expansion_target=expansion.target), worker_config
        )
        stack.callback(worker_runtime.close)
        jobs = load_jobs()
        workers = (
            Worker(worker_runtime, worker_config, jobs, clock),
            Worker(worker_runtime, worker_config, jobs, clock),
        )
        workers[0].store.sync(workers[0].schedules)
        cli = settings.client_credentials("cli")
        worker_credentials = settings.client_credentials("worker")
        assert cli is not None and worker_credentials is not None
        channel = grpc.secure_channel(expansion.target, cli)
        stack.callback(channel.close)
        internal_channel = grpc.secure_channel(expansion.target, worker_credentials)
        stack.callback(internal_channel.close)
        yield ExpansionSystem(
            expansion=expansion,
            notification=notification,
            clock=clock,
            signer=load_signer(settings.identity_dir, settings.identity_key_id),
            channel=channel,
            stub=expansion_service_pb2_grpc.ExpansionServiceStub(channel),
            internal=internal_grpc.ExpansionInternalServiceStub(internal_channel),
            workers=workers,
        )


def fails(call: Callable[[], Any]) -> DomainError:
    """The error `call` fails with, read back as the runtime's class."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return error_from_rpc(caught.value)
