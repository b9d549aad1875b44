"""The ingest tests' support: a real ingest service on port 0 under mTLS beside real
billing (three customers with a meter and a reading each), account, notification,
inspection and expansion services, channels holding the marketing and metering systems' client
certificates, and a staff identity for the quarantine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.engine import Engine
from sqlmodel import delete

from palmgrid.billing.v1 import payment_pb2, resources_pb2
from palmgrid.ingest.v1 import ingest_service_pb2_grpc
from palmgrid.ingest.v1 import resources_pb2 as ingest_resources
from palmgrid.type.v1 import identity_pb2
from servers.billing.models import BalanceRow, Customer, Meter, MeterReading
from servers.expansion.config import ExpansionConfig
from servers.expansion.service import make_spec as expansion_spec
from servers.ingest import models
from servers.ingest.config import IngestConfig
from servers.ingest.service import make_spec
from servers.ingest.staging import create_staging_schema, staging_metadata
from servers.inspection.config import InspectionConfig
from servers.inspection.service import make_spec as inspection_spec
from servers.runtime import (
    AssertionSigner,
    Runtime,
    ServiceSpec,
    SettableClock,
    Settings,
    load_signer,
)
from servers.runtime.db import create_engine
from servers.runtime.identity import ensure_key_pair
from servers.runtime.protoconv import timestamp
from servers.runtime.runtime_tables import request_keys_table
from tests.account import services
from tests.neighbours import start_neighbours
from tests.tester import accounts_with_tester, ensure_pki_with_tester

# Readings must lie in the past by the wall clock (their request rule), so the clock
# starts at the wall clock's minute.
START = datetime.now(UTC).replace(second=0, microsecond=0)
CUSTOMERS = ("3100000001", "3100000002", "3100000003")
# Every customer's meter and its stored reading, a day before START.
METER = "m1"
STORED_WH = 1_000_000


def meter_name(customer: str) -> str:
    return f"customers/{customer}/meters/{METER}"


def fill_billing(runtime: Runtime) -> None:
    with runtime.session(write=True) as session:
        for number in CUSTOMERS:
            session.add(
                Customer(
                    id=number,
                    holder_name="张三明",
                    registered_phone=f"1390000{number[-4:]}",
                    address="曲靖市麒麟区南宁西路1号",
                    supply_office="QJ-QL",
                    area_code="A01",
                    tariff="residential-tiered",
                    billing_mode="PREPAID",
                    source_update_time=START - timedelta(days=30),
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=number))
            session.add(Meter(customer_id=number, id=METER))
            session.add(
                MeterReading(
                    customer_id=number,
                    meter_id=METER,
                    id="r0",
                    read_time=START - timedelta(days=1),
                    value_wh=STORED_WH,
                    quality="ACTUAL",
                    source="REMOTE",
                )
            )


def customer(number: str, updated: datetime, **fields: Any) -> resources_pb2.Customer:
    """A complete archive record of customer `number` as of `updated`, with meter m1."""
    record = resources_pb2.Customer(
        name=f"customers/{number}",
        holder_name=fields.pop("holder_name", "李四"),
        registered_phone=f"1390000{number[-4:]}",
        address=fields.pop("address", "曲靖市麒麟区南宁西路2号"),
        supply_office="QJ-QL",
        area_code=fields.pop("area_code", "A01"),
        tariff=fields.pop("tariff", "tariffs/residential-tiered"),
        billing_mode=resources_pb2.BILLING_MODE_PREPAID,
        state=resources_pb2.CUSTOMER_STATE_ACTIVE,
        meters=[
            resources_pb2.Meter(
                name=meter_name(number), kind=resources_pb2.METER_KIND_SINGLE_PHASE, multiplier=1
            )
        ],
        source_update_time=timestamp(updated),
    )
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def reading(
    number: str, reading_id: str, read: datetime, value_wh: int, meter: str = METER
) -> resources_pb2.MeterReading:
    return resources_pb2.MeterReading(
        name=f"customers/{number}/meters/{meter}/readings/{reading_id}",
        read_time=timestamp(read),
        value_wh=value_wh,
        quality=resources_pb2.READING_QUALITY_ACTUAL,
        source=resources_pb2.READING_SOURCE_REMOTE,
    )


def payment(number: str, receipt: str, amount_fen: int, paid: datetime) -> payment_pb2.Payment:
    return payment_pb2.Payment(
        name=f"customers/{number}/payments/{receipt}",
        amount_fen=amount_fen,
        channel=payment_pb2.PAYMENT_CHANNEL_COUNTER,
        provider_order_id=receipt.upper(),
        complete_time=timestamp(paid),
    )


def assignment(number: str, tariff: str, updated: datetime) -> ingest_resources.TariffAssignment:
    return ingest_resources.TariffAssignment(
        customer=f"customers/{number}", tariff=tariff, source_update_time=timestamp(updated)
    )


def request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class IngestSystem:
    ingest: services.Running
    billing: services.Running
    inspection: services.Running
    expansion: services.Running
    clock: SettableClock
    signer: AssertionSigner
    marketing: ingest_service_pb2_grpc.IngestServiceStub
    metering: ingest_service_pb2_grpc.IngestServiceStub
    cli: ingest_service_pb2_grpc.IngestServiceStub
    # The staff CLI's channel (calls carry a staff assertion: `staff()`, `as_()`).
    channel: grpc.Channel
    worker: ingest_service_pb2_grpc.IngestServiceStub
    settings: Settings
    staging: Engine

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        """`principal`'s assertion, for calls through `cli`."""
        return [self.signer.metadata(principal, audience="ingest", caller="cli")]

    def staff(self, *permissions: str) -> list[tuple[str, bytes]]:
        """An administrator's assertion holding `permissions`, for calls through `cli`."""
        return self.as_(
            identity_pb2.Principal(
                user="users/admin-one",
                username="adminone",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["admin"],
                permissions=permissions,
                all_supply_offices=True,
            )
        )

    def reset(self) -> IngestSystem:
        with self.ingest.runtime.session(write=True) as session:
            for model in (models.AppliedRecord, models.QuarantineRow, models.ImportJobRow):
                session.exec(delete(model))  # type: ignore[call-overload]
            # Import jobs are created with request ids; their keys go with the jobs.
            session.execute(request_keys_table("ingest").delete())
        with self.staging.begin() as connection:
            for table in staging_metadata.sorted_tables:
                connection.execute(table.delete())
        return self


def common_settings(data_dir: Path) -> dict[str, Any]:
    """The settings every service of an ingest test shares (dev PKI and identity key
    made in `data_dir`, mTLS, no cache)."""
    ensure_pki_with_tester(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    return {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "log_level": "WARNING",
        "memcached_servers": ("127.0.0.1:1",),
        "service_accounts": accounts_with_tester(),
    }


@contextmanager
def ingest_system(data_dir: Path, database_url: str) -> Iterator[IngestSystem]:
    """Billing, account, notification, inspection and ingest under mTLS, on one
    settable clock; ingest on `database_url`."""
    common = common_settings(data_dir)
    clock = SettableClock(START)
    with ExitStack() as stack:
        near = start_neighbours(
            stack, data_dir, common, clock, fill_billing=fill_billing, fill_account=lambda _: None
        )

        def beside(name: str, spec: ServiceSpec) -> services.Running:
            """Service `name` on a SQLite database of its own, stopped with the stack."""
            database: dict[str, Any] = {
                f"{name}_database_url": f"sqlite:///{data_dir / f'{name}.db'}"
            }
            running = services.start(name, Settings(**common, **database, **near.targets()), spec)
            stack.callback(services.stop, running)
            return running

        inspection = beside(
            "inspection", inspection_spec(clock=clock, config=InspectionConfig(demo_data=False))
        )
        expansion = beside(
            "expansion", expansion_spec(clock=clock, config=ExpansionConfig(demo_data=False))
        )
        settings = Settings(
            **common,
            ingest_database_url=database_url,
            inspection_target=inspection.target,
            expansion_target=expansion.target,
            **near.targets(),
        )
        staging_url = f"sqlite:///{data_dir / 'staging.db'}"
        staging = create_engine(staging_url)
        stack.callback(staging.dispose)
        create_staging_schema(staging)
        ingest = services.start(
            "ingest",
            settings,
            make_spec(clock=clock, config=IngestConfig(demo_data=False, staging_url=staging_url)),
        )
        stack.callback(services.stop, ingest)

        def channel(account: str) -> grpc.Channel:
            credentials = settings.client_credentials(account)
            assert credentials is not None
            made = grpc.secure_channel(ingest.target, credentials)
            stack.callback(made.close)
            return made

        def stub(account: str) -> ingest_service_pb2_grpc.IngestServiceStub:
            return ingest_service_pb2_grpc.IngestServiceStub(channel(account))

        cli = channel("cli")

        yield IngestSystem(
            ingest=ingest,
            billing=near.billing,
            inspection=inspection,
            expansion=expansion,
            clock=clock,
            signer=load_signer(settings.identity_dir, settings.identity_key_id),
            marketing=stub("marketing"),
            metering=stub("metering"),
            cli=ingest_service_pb2_grpc.IngestServiceStub(cli),
            channel=cli,
            worker=stub("worker"),
            settings=settings,
            staging=staging,
        )
