"""The inspection tests' support: a real inspection service on port 0 under mTLS beside
real billing (customers of the 麒麟 office QJ-QL and the 沾益 office QJ-ZY), account
(inspectors, a manager and an agent) and notification services, a clock the tests
move, and signed identities to call it as."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlmodel import col, delete, select

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import inspection_service_pb2_grpc, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.account import models as account_models
from servers.account import users as account_users
from servers.billing.models import BalanceRow, Customer
from servers.inspection import models
from servers.inspection.config import InspectionConfig
from servers.inspection.service import make_spec
from servers.notification import models as notification_models
from servers.runtime import (
    AssertionSigner,
    Runtime,
    SettableClock,
    Settings,
    load_signer,
)
from servers.runtime.identity import ensure_key_pair
from tests.account import services
from tests.neighbours import empty_outbox, start_neighbours
from tests.outage.support import new_request_id
from tests.tester import accounts_with_tester, ensure_pki_with_tester

# The request rules compare due and observation times with the wall clock, so the
# service's clock starts at the wall clock's minute.
START = datetime.now(UTC).replace(second=0, microsecond=0)
DAY = timedelta(days=1)

# Customer id → supply office, as in the demo archive.
CUSTOMERS = {
    "3100000001": "QJ-QL",
    "3100000002": "QJ-QL",
    "3100000012": "QJ-QL",
    "3100000013": "QJ-QL",
    "3100000007": "QJ-ZY",
}
QL_CUSTOMER = "customers/3100000001"
ZY_CUSTOMER = "customers/3100000007"

# User id → (roles, supply offices, active).
STAFF = {
    "i-one": (("inspector",), ("QJ-QL",), True),
    "i-two": (("inspector",), ("QJ-QL",), True),
    "i-three": (("inspector",), ("QJ-QL",), True),
    "i-far": (("inspector",), ("QJ-ZY",), True),
    "i-gone": (("inspector",), ("QJ-QL",), False),
    "m-one": (("inspection-manager",), ("QJ-QL",), True),
    "a-one": (("agent",), ("QJ-QL",), True),
    # The demo inspectors, by their demo usernames.
    "d-inspector": (("inspector",), ("QJ-QL",), True),
    "d-patroller": (("inspector",), ("QJ-QL",), True),
}


def username_of(user: str) -> str:
    """The username of test user `user`: the demo inspectors keep their demo names."""
    if user.startswith("d-"):
        return user.removeprefix("d-")
    return user.replace("-", "x") + "staff"


INSPECTOR_PERMISSIONS = (
    "inspection.inspections.create",
    "inspection.inspections.list",
    "inspection.inspections.get",
    "inspection.inspections.complete",
    "inspection.findings.create",
    "inspection.findings.list",
    "inspection.findings.get",
)
MANAGER_PERMISSIONS = (
    *INSPECTOR_PERMISSIONS,
    "inspection.inspections.assign",
    "inspection.inspections.cancel",
    "inspection.anomalies.list",
    "inspection.anomalies.get",
    "inspection.anomalies.dismiss",
)


def _fill_billing(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for number, office in CUSTOMERS.items():
            session.add(
                Customer(
                    id=number,
                    holder_name="张三明",
                    registered_phone=f"1390000{number[-4:]}",
                    address="曲靖市麒麟区南宁西路1号",
                    supply_office=office,
                    area_code="A01" if office == "QJ-QL" else "A07",
                    tariff="residential-tiered",
                    billing_mode="POSTPAID",
                    source_update_time=START,
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=number))


def _fill_account(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for user, (roles, offices, active) in STAFF.items():
            session.add(
                account_models.User(
                    id=user,
                    username=username_of(user),
                    username_key=username_of(user),
                    kind=account_users.STAFF,
                    state=account_users.ACTIVE if active else account_users.DISABLED,
                    coverage=account_users.COVERAGE_LISTED,
                    supply_offices=list(offices),
                    password_hash="-",
                    password_changed_time=START,
                    create_time=START,
                    update_time=START,
                )
            )
            session.flush()
            for role in roles:
                session.add(account_models.UserRole(user_id=user, role_id=role))


@dataclass
class InspectionSystem:
    """The inspection service and its neighbours, with a stub and identities."""

    inspection: services.Running
    notification: services.Running
    account: services.Running
    clock: SettableClock
    signer: AssertionSigner
    channel: grpc.Channel
    stub: inspection_service_pb2_grpc.InspectionServiceStub

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        return [self.signer.metadata(principal, audience="inspection", caller="cli")]

    def staff(
        self, user: str, role: str, permissions: tuple[str, ...], offices: tuple[str, ...]
    ) -> list[tuple[str, bytes]]:
        return self.as_(
            identity_pb2.Principal(
                user=f"users/{user}",
                username=user,
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=[role],
                permissions=permissions,
                supply_offices=offices or ("QJ-QL",),
            )
        )

    def inspector(self, user: str = "i-one", *offices: str) -> list[tuple[str, bytes]]:
        return self.staff(user, "inspector", INSPECTOR_PERMISSIONS, offices)

    def manager(self, user: str = "m-one", *offices: str) -> list[tuple[str, bytes]]:
        return self.staff(user, "inspection-manager", MANAGER_PERMISSIONS, offices)

    def ingest(self) -> list[tuple[str, bytes]]:
        """The ingest service's identity, which hands on the metering system's anomalies."""
        return self.as_(
            identity_pb2.Principal(
                user="serviceAccounts/ingest",
                username="ingest",
                kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
                permissions=["inspection.anomalies.record"],
                all_supply_offices=True,
            )
        )

    def create(
        self, *assignees: str, as_: list[tuple[str, bytes]] | None = None, **fields: Any
    ) -> resources_pb2.Inspection:
        """A task made by a manager of QJ-QL (periodic, due in 3 days) for `assignees`
        (i-one and i-two by default)."""
        return self.stub.CreateInspection(
            inspection_pb.CreateInspectionRequest(
                inspection=task(self.clock.now(), *assignees, **fields),
                request_id=new_request_id(),
            ),
            metadata=as_ or self.manager(),
        )

    def messages(self, template: str) -> list[notification_models.MessageRow]:
        """The outbox's messages of `template`, oldest first."""
        Message = notification_models.MessageRow
        with self.notification.runtime.session() as session:
            return list(
                session.exec(
                    select(Message)
                    .where(col(Message.template) == template)
                    .order_by(col(Message.create_time))
                ).all()
            )

    def reset(self) -> InspectionSystem:
        with self.inspection.runtime.session(write=True) as session:
            for model in (
                models.AnomalyRow,
                models.InspectionRow,
                models.AssigneeRow,
                models.FindingRow,
                models.PhotoRow,
            ):
                session.exec(delete(model))  # type: ignore[call-overload]
        empty_outbox(self.notification)
        self.clock.set(START)
        return self


def task(now: datetime, *assignees: str, **fields: Any) -> resources_pb2.Inspection:
    """A periodic task for customer 3100000001 due 3 days after `now`, assigned to
    `assignees` (users i-one and i-two by default), with `fields` set."""
    inspection = resources_pb2.Inspection(
        customer=fields.pop("customer", QL_CUSTOMER),
        kind=fields.pop("kind", resources_pb2.INSPECTION_KIND_PERIODIC),
        assignees=[f"users/{a}" for a in (assignees or ("i-one", "i-two"))],
        description=fields.pop("description", "例行检查"),
    )
    inspection.due_time.FromDatetime(now + 3 * DAY)
    for name, value in fields.items():
        setattr(inspection, name, value)
    return inspection


@contextmanager
def inspection_system(data_dir: Path, database_url: str) -> Iterator[InspectionSystem]:
    """Billing, account, notification and inspection under mTLS, on one settable
    clock; inspection on `database_url`."""
    ensure_pki_with_tester(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    common: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "log_level": "WARNING",
        "memcached_servers": ("127.0.0.1:1",),
        "service_accounts": accounts_with_tester(),
    }
    clock = SettableClock(START)
    with ExitStack() as stack:
        near = start_neighbours(
            stack, data_dir, common, clock, fill_billing=_fill_billing, fill_account=_fill_account
        )
        settings = Settings(
            **common,
            inspection_database_url=database_url,
            **near.targets(),
        )
        inspection = services.start(
            "inspection",
            settings,
            make_spec(clock=clock, config=InspectionConfig(demo_data=False)),
        )
        stack.callback(services.stop, inspection)
        credentials = settings.client_credentials("cli")
        assert credentials is not None
        channel = grpc.secure_channel(inspection.target, credentials)
        stack.callback(channel.close)
        yield InspectionSystem(
            inspection=inspection,
            notification=near.notification,
            account=near.account,
            clock=clock,
            signer=load_signer(settings.identity_dir, settings.identity_key_id),
            channel=channel,
            stub=inspection_service_pb2_grpc.InspectionServiceStub(channel),
        )


# The smallest images whose leading bytes say what they are.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(64))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def finding(observed: datetime, **fields: Any) -> resources_pb2.Finding:
    """A finding observed at `observed`: every seal and body check passed, a meter read,
    no violation, one JPEG photo, at the 麒麟 office's coordinates; `fields` set."""
    made = resources_pb2.Finding(
        checked_items=[
            resources_pb2.CheckedItem(
                item=resources_pb2.CHECK_ITEM_METER_SEAL, result=resources_pb2.CHECK_RESULT_PASS
            ),
            resources_pb2.CheckedItem(
                item=resources_pb2.CHECK_ITEM_METER_BODY, result=resources_pb2.CHECK_RESULT_PASS
            ),
        ],
        meter_reading=resources_pb2.MeterReading(meter_number="M3100000001", register_wh=12345670),
        seal_state=resources_pb2.SEAL_STATE_INTACT,
        violation_kind=resources_pb2.VIOLATION_KIND_NONE,
        photos=[resources_pb2.Photo(content_type="image/jpeg", data=JPEG)],
        location={"latitude": 25.49, "longitude": 103.79},
        location_accuracy_meters=8.0,
        note="表计运行正常",
    )
    made.observe_time.FromDatetime(observed)
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(made, name)[:]
            getattr(made, name).extend(value)
        else:
            setattr(made, name, value)
    return made
