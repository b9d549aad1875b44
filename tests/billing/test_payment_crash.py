"""A billing process killed mid-payment, then restarted: the payment is recovered to
exactly one credit. Billing runs as a real process (`python -m servers.billing`) on
SQLite and on PostgreSQL; a test-only fault point (PALMGRID_PAYMENT_FAULT) makes it
exit at once, as `kill -9` would, at the moment under test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import select

from palmgrid.billing.v1 import billing_service_pb2, billing_service_pb2_grpc, payment_pb2
from palmgrid.type.v1 import identity_pb2
from servers.account.config import AccountConfig
from servers.account.service import make_spec as account_spec
from servers.billing.ledger import balance_of
from servers.billing.models import BalanceRow, BillingMode, Customer, LedgerEntry
from servers.billing.payments.models import Payment
from servers.billing.payments.sandbox import Sandbox
from servers.runtime import AssertionSigner, Settings, build_server, create_engine, session_scope
from tests.billing.payments_sandbox_support import (
    APP_ID,
    FAST,
    MERCHANT_ID,
    payment_keys_dir,
    start_test_sandbox,
)
from tests.billing.payments_support import PAYMENT_PERMISSIONS, identity_key, wait_until
from tests.serving import wait_serving
from tools.ports import free_port

__all__ = ["identity_key", "payment_keys_dir"]

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_ID = "3100000005"
START_TIMEOUT = 60.0


class BillingProcess:
    """`python -m servers.billing` with the test's database, keys and sandbox."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servers.billing"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        wait_serving(self.channel, self.process, "billing", START_TIMEOUT)

    @property
    def stub(self) -> billing_service_pb2_grpc.BillingServiceStub:
        return billing_service_pb2_grpc.BillingServiceStub(self.channel)

    def wait_exit(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def sandbox(payment_keys_dir: Path) -> Iterator[Sandbox]:
    # Callbacks are sent once and never retried: after the crash only the resolver of
    # the restarted process can find the result.
    running = start_test_sandbox(
        payment_keys_dir, FAST.updated({"confirm_delay_seconds": 0.3, "callback_retry_seconds": []})
    )
    yield running
    running.stop()


@pytest.fixture
def account_target(tmp_path: Path, identity_key: tuple[Path, Ed25519PrivateKey]) -> Iterator[str]:
    """A real account service: audited payments are refused while the audit log cannot
    be reached (the billing process, in plaintext, cannot write to it as itself; its
    records wait in its audit outbox)."""
    settings = Settings(
        data_dir=tmp_path / "account-data",
        grpc_security="plaintext",
        account_database_url=f"sqlite:///{tmp_path / 'account.db'}",
        identity_keys_dir=identity_key[0],
        log_level="WARNING",
    )
    fast = AccountConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
    server, port, runtime = build_server(account_spec(config=fast), settings, address="127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)
    runtime.close()


def _env(
    tmp_path: Path,
    database_url: str,
    port: int,
    keys_dir: Path,
    identity_dir: Path,
    sandbox: Sandbox,
    account_target: str,
    **payment: str,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")}
    env.update(
        {
            "PALMGRID_ACCOUNT_TARGET": account_target,
            "PALMGRID_DATA_DIR": str(tmp_path / "data"),
            "PALMGRID_BILLING_PORT": str(port),
            "PALMGRID_BILLING_DATABASE_URL": database_url,
            "PALMGRID_GRPC_SECURITY": "plaintext",
            "PALMGRID_IDENTITY_KEYS_DIR": str(identity_dir),
            "PALMGRID_BILLING_DEMO_DATA": "false",
            "PALMGRID_PAYMENT_PROVIDER_URL": sandbox.url,
            "PALMGRID_PAYMENT_KEYS_DIR": str(keys_dir),
            "PALMGRID_PAYMENT_MERCHANT_ID": MERCHANT_ID,
            "PALMGRID_PAYMENT_APP_ID": APP_ID,
            "PALMGRID_PAYMENT_NOTIFY_URL": f"grpc://127.0.0.1:{port}/wechatpay",
            "PALMGRID_PAYMENT_PROVIDER_TIMEOUT_SECONDS": "2",
            "PALMGRID_PAYMENT_LEASE_SECONDS": "3",
        }
    )
    env.update({f"PALMGRID_PAYMENT_{key.upper()}": value for key, value in payment.items()})
    return env


def _add_customer(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        session.add(
            Customer(
                id=CUSTOMER_ID,
                holder_name="李四",
                address="曲靖市麒麟区 2 号",
                supply_office="QJ-QL",
                area_code="A05",
                tariff="residential-tiered",
                billing_mode=BillingMode.PREPAID.value,
                source_update_time=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )
        session.flush()
        session.add(BalanceRow(customer_id=CUSTOMER_ID))


@pytest.mark.parametrize(
    "fault", ["crash_after_provider_confirmed", "crash_after_provider_order_created"]
)
def test_a_payment_interrupted_by_a_crash_is_credited_once_after_restart(
    fault: str,
    tmp_path: Path,
    database_url: str,
    payment_keys_dir: Path,
    identity_key: tuple[Path, Ed25519PrivateKey],
    sandbox: Sandbox,
    account_target: str,
) -> None:
    identity_dir, key = identity_key
    signer = AssertionSigner(key, "test")
    payer = identity_pb2.Principal(
        user="users/payer",
        kind=identity_pb2.PRINCIPAL_KIND_CUSTOMER,
        customers=[f"customers/{CUSTOMER_ID}"],
        permissions=list(PAYMENT_PERMISSIONS),
    )
    port = free_port()
    log = tmp_path / "billing.log"
    base = (tmp_path, database_url, port, payment_keys_dir, identity_dir, sandbox, account_target)
    # First life: the resolver is far off, so the callback is what reaches the fault.
    first = BillingProcess(
        _env(*base, fault=fault, resolve_after_seconds="600", jobs_interval_seconds="600"),
        port,
        log,
    )
    engine = create_engine(database_url)
    request = billing_service_pb2.CreatePaymentRequest(
        parent=f"customers/{CUSTOMER_ID}",
        amount_fen=8800,
        channel=payment_pb2.PAYMENT_CHANNEL_WECHAT_PAY,
        request_id=str(uuid.uuid4()),
    )
    try:
        _add_customer(engine)
        try:
            first.stub.CreatePayment(
                request, metadata=(signer.metadata(payer, audience="billing"),), timeout=10
            )
        except grpc.RpcError as error:  # the process died while answering
            assert fault == "crash_after_provider_order_created", error
        assert first.wait_exit() == 137
    finally:
        first.stop()

    with session_scope(engine) as session:
        [payment] = session.exec(select(Payment)).all()
        assert payment.state == "PENDING"
        assert session.exec(select(LedgerEntry)).all() == []
    wait_until(lambda: sandbox.charges(payment.id) == 1)  # the provider took the money

    second = BillingProcess(
        _env(*base, resolve_after_seconds="0", jobs_interval_seconds="0.2"), port, log
    )
    try:
        name = payment.name
        deadline = time.monotonic() + 20
        while True:
            reply = second.stub.GetPayment(
                billing_service_pb2.GetPaymentRequest(name=name),
                metadata=(signer.metadata(payer, audience="billing"),),
                timeout=5,
            )
            if reply.state == payment_pb2.PAYMENT_STATE_SUCCEEDED:
                break
            assert time.monotonic() < deadline, "not recovered"
            time.sleep(0.1)
        retried = second.stub.CreatePayment(
            request, metadata=(signer.metadata(payer, audience="billing"),), timeout=10
        )
        assert retried.name == name and retried.state == payment_pb2.PAYMENT_STATE_SUCCEEDED
    finally:
        second.stop()

    with session_scope(engine) as session:
        entries = session.exec(select(LedgerEntry)).all()
        assert [(e.kind, e.amount_fen, e.reference) for e in entries] == [("PAYMENT", 8800, name)]
        assert balance_of(session, CUSTOMER_ID, datetime.now(UTC)).net_fen == 8800
    [order] = sandbox.book.snapshot()
    assert order["create_requests"] == 1 and sandbox.charges(payment.id) == 1
    engine.dispose()
