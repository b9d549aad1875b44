"""Fixtures and helpers for the payment tests: the billing service on port 0 (on the
suite's SQLite and PostgreSQL databases) wired to its own sandbox provider, customers
in its archive, and callers with signed identities.

A billing server is started once per test module and database; `start_billing`
hands it to a test with its tables emptied and its sandbox reset. A test module
imports the fixtures it uses by name (pytest finds fixtures among a module's globals)
and lists them in `__all__`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import delete, select

from palmgrid.billing.v1 import (
    billing_admin_service_pb2_grpc,
    billing_service_pb2,
    billing_service_pb2_grpc,
    payment_pb2,
)
from palmgrid.type.v1 import identity_pb2
from servers.billing.config import BillingConfig
from servers.billing.ledger import balance_of
from servers.billing.models import BalanceRow, BillingMode, Customer, LedgerEntry
from servers.billing.payments.models import (
    OutboxMessage,
    Payment,
    PaymentRequest,
    ReconciliationReportRow,
    Refund,
)
from servers.billing.payments.sandbox import Behaviour, Sandbox
from servers.billing.payments.service import PaymentService, payment_service
from servers.billing.payments.settings import PaymentSettings
from servers.billing.service import make_spec
from servers.runtime import SYSTEM_CLOCK, AssertionSigner, Runtime, Settings, build_server
from servers.runtime.identity import generate_private_key, write_key_pair
from tests.audit_log import with_audit_log
from tests.billing.payments_sandbox_support import (
    APP_ID,
    FAST,
    MERCHANT_ID,
    payment_keys_dir,
    start_test_sandbox,
)
from tests.conftest import module_database_fixture

__all__ = [
    "billing_server",
    "identity_key",
    "module_database_url",
    "payment_keys_dir",
    "start_billing",
]

SPEC = make_spec(BillingConfig(demo_data=False))

Principal = identity_pb2.Principal
CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER
STAFF = identity_pb2.PRINCIPAL_KIND_STAFF
PAYMENT_PERMISSIONS = (
    "billing.payments.create",
    "billing.payments.list",
    "billing.payments.get",
    "billing.balances.get",
)
STAFF_PERMISSIONS = (
    *PAYMENT_PERMISSIONS,
    "billing.refunds.create",
    "billing.refunds.get",
    "billing.reconciliationReports.get",
    "billing.reconciliationReports.list",
    "billing.reconciliationReports.run",
)
SUPPLY_OFFICE = "QJ-QL"


@pytest.fixture(scope="session")
def identity_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PrivateKey]:
    """An identity key folder the billing server trusts, and its signing key."""
    directory = tmp_path_factory.mktemp("identity")
    key = generate_private_key()
    write_key_pair(directory, "test", key)
    return directory, key


@dataclass
class Billing:
    """A billing server on port 0 wired to a sandbox provider."""

    server: Any
    port: int
    runtime: Runtime
    payments: PaymentService
    sandbox: Sandbox
    signer: AssertionSigner
    channel: grpc.Channel

    @property
    def stub(self) -> billing_service_pb2_grpc.BillingServiceStub:
        return billing_service_pb2_grpc.BillingServiceStub(self.channel)

    @property
    def admin(self) -> billing_admin_service_pb2_grpc.BillingAdminServiceStub:
        return billing_admin_service_pb2_grpc.BillingAdminServiceStub(self.channel)

    def add_customer(
        self, customer_id: str, *, prepaid: bool = False, office: str = SUPPLY_OFFICE
    ) -> None:
        """Store a customer (with a zero balance) in billing's archive."""
        mode = BillingMode.PREPAID if prepaid else BillingMode.POSTPAID
        with self.runtime.session(write=True) as session:
            session.add(
                Customer(
                    id=customer_id,
                    holder_name="张三明",
                    address="曲靖市麒麟区南宁西路 1 号",
                    supply_office=office,
                    area_code="A01",
                    tariff="residential-tiered",
                    billing_mode=mode.value,
                    source_update_time=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=customer_id))

    def balance_fen(self, customer_id: str) -> int:
        """The customer's net balance (fen) as the ledger has it."""
        with self.runtime.session() as session:
            return balance_of(session, customer_id, self.payments.now()).net_fen

    def ledger_entries(self, customer_id: str, kind: str = "PAYMENT") -> list[LedgerEntry]:
        with self.runtime.session() as session:
            return list(
                session.exec(
                    select(LedgerEntry).where(
                        LedgerEntry.customer_id == customer_id, LedgerEntry.kind == kind
                    )
                ).all()
            )

    def as_customer(self, *customer_ids: str, user: str = "users/payer") -> Caller:
        principal = Principal(
            user=user,
            kind=CUSTOMER,
            customers=[f"customers/{c}" for c in customer_ids],
            permissions=list(PAYMENT_PERMISSIONS),
        )
        return Caller(self, principal)

    def as_staff(self, *offices: str, everywhere: bool = False) -> Caller:
        principal = Principal(
            user="users/clerk",
            kind=STAFF,
            supply_offices=list(offices),
            all_supply_offices=everywhere,
            permissions=list(STAFF_PERMISSIONS),
        )
        return Caller(self, principal)


@dataclass
class Caller:
    """Calls billing with a fresh identity assertion for `principal`."""

    billing: Billing
    principal: Principal

    def metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return (self.billing.signer.metadata(self.principal, audience="billing"),)

    def pay(
        self, customer_id: str, amount_fen: int, request_id: str | None = None, **extra: Any
    ) -> payment_pb2.Payment:
        request = billing_service_pb2.CreatePaymentRequest(
            parent=f"customers/{customer_id}",
            amount_fen=amount_fen,
            channel=extra.pop("channel", payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY),
            request_id=request_id or str(uuid.uuid4()),
        )
        reply: payment_pb2.Payment = self.billing.stub.CreatePayment(
            request, metadata=self.metadata(), timeout=extra.pop("timeout", 10)
        )
        return reply

    def get(self, name: str) -> payment_pb2.Payment:
        reply: payment_pb2.Payment = self.billing.stub.GetPayment(
            billing_service_pb2.GetPaymentRequest(name=name), metadata=self.metadata(), timeout=10
        )
        return reply

    def list(self, customer_id: str, page_size: int = 0, page_token: str = "") -> Any:
        return self.billing.stub.ListPayments(
            billing_service_pb2.ListPaymentsRequest(
                parent=f"customers/{customer_id}", page_size=page_size, page_token=page_token
            ),
            metadata=self.metadata(),
            timeout=10,
        )


def payment_settings(**overrides: Any) -> PaymentSettings:
    """Payment settings for tests: short timeouts, jobs run by the tests themselves."""
    values: dict[str, Any] = {
        "merchant_id": MERCHANT_ID,
        "app_id": APP_ID,
        "provider_timeout_seconds": 1.0,
        "resolve_after_seconds": 0.0,
        "jobs_interval_seconds": 0,
        "lease_seconds": 3.0,
    }
    values.update(overrides)
    return PaymentSettings(**values)


StartBilling = Callable[..., Billing]
# What a test may leave behind: emptied before the next test of the module.
TEST_TABLES = (
    OutboxMessage,
    ReconciliationReportRow,
    Refund,
    PaymentRequest,
    Payment,
    LedgerEntry,
    BalanceRow,
    Customer,
)


module_database_url = module_database_fixture("payments")


@pytest.fixture(scope="module")
def billing_server(
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    payment_keys_dir: Path,
    identity_key: tuple[Path, Ed25519PrivateKey],
) -> Iterator[Billing]:
    """A billing server (plaintext, port 0) and its sandbox, once per module and
    database: migrating and starting cost more than most tests."""
    identity_dir, key = identity_key
    provider = start_test_sandbox(payment_keys_dir)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("payments-data"),
        billing_database_url=module_database_url,
        grpc_security="plaintext",
        identity_keys_dir=identity_dir,
        grpc_max_workers=16,
    )
    server, port, runtime = build_server(with_audit_log(SPEC), settings, address="127.0.0.1:0")
    wiring = {
        "provider_url": provider.url,
        "keys_dir": payment_keys_dir,
        "notify_url": f"grpc://127.0.0.1:{port}/wechatpay",
    }
    payments = payment_service(runtime, payment_settings(**wiring))
    server.start()
    billing = Billing(
        server=server,
        port=port,
        runtime=runtime,
        payments=payments,
        sandbox=provider,
        signer=AssertionSigner(key, "test"),
        channel=grpc.insecure_channel(f"127.0.0.1:{port}"),
    )
    yield billing
    billing.channel.close()
    billing.server.stop(0)
    billing.payments.close()
    billing.sandbox.stop()
    billing.runtime.close()


@pytest.fixture
def start_billing(billing_server: Billing, payment_keys_dir: Path) -> StartBilling:
    """Call to get the module's billing server as if new: empty tables, its sandbox
    forgetting everything and behaving as `behaviour`, payment settings with
    `payment_overrides`, the real clock. On SQLite and on PostgreSQL."""

    def start(behaviour: Behaviour = FAST, **payment_overrides: Any) -> Billing:
        billing = billing_server
        with billing.runtime.session(write=True) as session:
            for model in TEST_TABLES:
                session.exec(delete(model))  # type: ignore[call-overload]
        port = billing.sandbox.port
        if not billing.sandbox.serving:  # a test stopped it: the provider is back
            billing.sandbox = start_test_sandbox(payment_keys_dir, behaviour, port=port)
        billing.sandbox.reset(behaviour)
        billing.payments.settings = payment_settings(
            provider_url=billing.sandbox.url,
            keys_dir=payment_keys_dir,
            notify_url=billing.payments.notify_url,
            **payment_overrides,
        )
        billing.payments.clock = SYSTEM_CLOCK
        return billing

    return start


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
