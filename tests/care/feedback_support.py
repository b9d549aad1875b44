"""Support of the feedback tests: a real billing service holding a few customers, which
care asks for their supply offices over mTLS, and the people who give and handle
feedback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from palmgrid.type.v1 import identity_pb2
from servers.billing.config import BillingConfig
from servers.billing.models import BalanceRow, Customer
from servers.billing.service import make_spec as billing_spec
from servers.runtime import Settings, build_server
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from tests.audit_log import with_audit_log
from tests.care.support import CUSTOMER_PERMISSIONS, CareServer

# Customer id → supply office (the demo archive's offices).
CUSTOMERS = {"3100000001": "QJ-QL", "3100000002": "QJ-QL", "3100000006": "QJ-ZY"}
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
    """Key material for mTLS between care and billing and for assertions."""
    ensure_dev_pki(directory / "tls")
    ensure_key_pair(directory / "identity", "dev")
    return directory


@contextmanager
def running_billing(data_dir: Path) -> Iterator[str]:
    """A billing service (no demo data) holding CUSTOMERS; yields its target."""
    settings = Settings(
        data_dir=data_dir,
        grpc_security="mtls",
        billing_database_url=f"sqlite:///{data_dir / 'billing.db'}",
        log_level="WARNING",
    )
    server, port, runtime = build_server(
        with_audit_log(billing_spec(BillingConfig(demo_data=False))),
        settings,
        address="127.0.0.1:0",
    )
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
                    source_update_time=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=number))
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)
        runtime.close()


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
