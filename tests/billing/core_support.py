"""The billing core's test support: a real billing server on port 0 with stubs and
signed identities to call it as, and customers written straight to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from sqlmodel import Session

from palmgrid.billing.v1 import (
    billing_admin_service_pb2_grpc,
    billing_internal_service_pb2_grpc,
    billing_service_pb2_grpc,
)
from palmgrid.type.v1 import identity_pb2
from servers.billing.config import BillingConfig
from servers.billing.models import BalanceRow, BillingMode, Customer
from servers.billing.service import make_spec
from servers.runtime import (
    AssertionSigner,
    Clock,
    Runtime,
    Server,
    Settings,
    build_server,
    load_signer,
)
from tests.audit_log import with_audit_log


def make_customer(session: Session, customer_id: str, **fields: object) -> Customer:
    """Store a customer (and its zero balance row) with plausible defaults."""
    values: dict[str, object] = {
        "holder_name": "张三明",
        "registered_phone": "13800000042",
        "address": "曲靖市麒麟区南宁西路 1 号",
        "supply_office": "QJ-QL",
        "area_code": "A01",
        "tariff": "residential-tiered",
        "billing_mode": BillingMode.POSTPAID.value,
        "source_update_time": datetime(2024, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    customer = Customer(id=customer_id, **values)  # type: ignore[arg-type]
    session.add(customer)
    session.flush()
    session.add(BalanceRow(customer_id=customer_id))
    session.flush()
    return customer


# -- a running billing server ------------------------------------------------------

CUSTOMER_PERMISSIONS = (
    "billing.customers.get",
    "billing.balances.get",
    "billing.monthlyUsage.list",
    "billing.monthlyUsage.get",
    "billing.dailyUsage.list",
    "billing.usageAnalyses.get",
    "billing.usageForecasts.get",
    "billing.usageTrends.get",
    "billing.usageExports.get",
    "billing.bills.list",
    "billing.bills.get",
    "billing.chargeEstimates.get",
    "billing.meterReadings.list",
)
STAFF_PERMISSIONS = (
    *CUSTOMER_PERMISSIONS,
    "billing.customers.list",
    "billing.ledgerEntries.list",
    "billing.adjustments.create",
    "billing.adjustments.get",
    "billing.tariffs.create",
    "billing.tariffVersions.list",
    "billing.tariffVersions.get",
    "billing.tariffVersions.create",
    "billing.tariffVersions.delete",
    "billing.tariffVersions.publish",
)


@dataclass
class BillingServer:
    """A billing server on port 0 with stubs and identities to call it as."""

    port: int
    channel: grpc.Channel
    runtime: Runtime
    signer: AssertionSigner
    billing: billing_service_pb2_grpc.BillingServiceStub
    admin: billing_admin_service_pb2_grpc.BillingAdminServiceStub
    internal: billing_internal_service_pb2_grpc.BillingInternalServiceStub

    def as_(self, principal: identity_pb2.Principal) -> list[tuple[str, bytes]]:
        """Call metadata carrying a fresh assertion for `principal`."""
        return [self.signer.metadata(principal, audience="billing")]

    def customer(self, *customer_ids: str) -> list[tuple[str, bytes]]:
        """A customer user bound to `customer_ids`."""
        return self.as_(
            identity_pb2.Principal(
                user="users/u1",
                username="customer",
                kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
                roles=["customer"],
                permissions=CUSTOMER_PERMISSIONS,
                customers=[f"customers/{i}" for i in customer_ids],
            )
        )

    def staff(self, *offices: str, everywhere: bool = False) -> list[tuple[str, bytes]]:
        """A staff member of `offices` (or every office)."""
        return self.as_(
            identity_pb2.Principal(
                user="users/s1",
                username="agent",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["agent"],
                permissions=STAFF_PERMISSIONS,
                supply_offices=offices,
                all_supply_offices=everywhere,
            )
        )

    def service(self) -> list[tuple[str, bytes]]:
        """Another PalmGrid service (every permission and office)."""
        return self.as_(
            identity_pb2.Principal(
                user="serviceAccounts/account",
                username="account",
                kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
                permissions=["*"],
                all_supply_offices=True,
            )
        )


def start_billing(
    data_dir: Path, database_url: str, config: BillingConfig, *, clock: Clock | None = None
) -> tuple[Server, BillingServer]:
    """Start billing on port 0 (plaintext) with `config` and `clock` (default: the wall
    clock)."""
    settings = Settings(
        data_dir=data_dir,
        grpc_security="plaintext",
        billing_database_url=database_url,
        log_level="WARNING",
    )
    server, port, runtime = build_server(
        with_audit_log(make_spec(config, clock=clock)), settings, address="127.0.0.1:0"
    )
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    signer = load_signer(settings.identity_dir, settings.identity_key_id)
    return server, BillingServer(
        port,
        channel,
        runtime,
        signer,
        billing_service_pb2_grpc.BillingServiceStub(channel),
        billing_admin_service_pb2_grpc.BillingAdminServiceStub(channel),
        billing_internal_service_pb2_grpc.BillingInternalServiceStub(channel),
    )


@contextmanager
def running_billing(
    data_dir: Path, database_url: str, config: BillingConfig, *, clock: Clock | None = None
) -> Iterator[BillingServer]:
    """`start_billing`, stopped (channel, server, runtime) when the block ends."""
    server, running = start_billing(data_dir, database_url, config, clock=clock)
    try:
        yield running
    finally:
        running.channel.close()
        server.stop(0)
        running.runtime.close()
