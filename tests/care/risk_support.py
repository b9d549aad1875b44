"""Support of the complaint-risk tests: care under mTLS beside real billing, outage,
account and notification services, each with the data a test constructs, and the
people who call care.

Billing holds customers 3100000001 (A01), 3100000002 (A02), both of the 麒麟 office
(QJ-QL), and 3100000006 (A06, 沾益, QJ-ZY). Account holds two care managers, one per
office. All services share one SettableClock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlmodel import col, delete, select

from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.type.v1 import identity_pb2
from servers.account import users as account_users
from servers.account.config import AccountConfig
from servers.account.passwords import PasswordHasher
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.billing.models import BalanceRow, Bill
from servers.billing.service import make_spec as billing_spec
from servers.care.commitments import due_time
from servers.care.config import CareConfig
from servers.care.models import ComplaintRiskRow, FeedbackEventRow, FeedbackRow
from servers.care.service import make_spec as care_spec
from servers.notification.config import NotificationConfig
from servers.notification.models import DeliveryRow, EventSendRow, MessageRow
from servers.notification.service import make_spec as notification_spec
from servers.outage.models import ChangeRow, NoticeRow, OutageRow
from servers.outage.service import make_spec as outage_spec
from servers.runtime import SettableClock, Settings, load_signer
from servers.runtime.identity import ensure_key_pair
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.process import open_runtime
from servers.worker.runner import Worker
from tests.account import services
from tests.billing.core_support import make_customer
from tests.care.support import CareServer
from tests.outage.support import fast_config
from tests.tester import accounts_with_tester, ensure_pki_with_tester

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Customer id → (area, supply office).
CUSTOMERS = {
    "3100000001": ("A01", "QJ-QL"),
    "3100000002": ("A02", "QJ-QL"),
    "3100000006": ("A06", "QJ-ZY"),
}
# Username → the office the care manager covers.
MANAGERS = {"mgrqilin": "QJ-QL", "mgrzhanyi": "QJ-ZY"}
FAST_ACCOUNT = AccountConfig(
    demo_data=False, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
)
AGENT_PERMISSIONS = (
    "care.feedback.list",
    "care.feedback.get",
    "care.complaintRisks.list",
    "care.complaintRisks.get",
)


def _fill_billing(runtime: Any) -> None:
    with runtime.session(write=True) as session:
        for number, (area, office) in CUSTOMERS.items():
            make_customer(session, number, supply_office=office, area_code=area)


def _fill_account(runtime: Any) -> dict[str, str]:
    """The care managers; username → user name."""
    hasher = PasswordHasher(b"p" * 32, time_cost=1, memory_kib=1024, parallelism=1)
    names = {}
    with runtime.session(write=True) as session:
        for username, office in MANAGERS.items():
            user = account_users.create(
                session,
                username=username,
                password="Risk-manager-26!",
                kind=account_users.STAFF,
                roles=["care-manager"],
                hasher=hasher,
                now=START,
                coverage=account_users.COVERAGE_LISTED,
                supply_offices=(office,),
            )
            names[username] = f"users/{user.id}"
    return names


@dataclass
class RiskSystem:
    """Care and its neighbours, with stubs, identities and the data they hold."""

    care: CareServer
    billing: services.Running
    outage: services.Running
    notification: services.Running
    managers: dict[str, str]
    worker: Worker

    @property
    def clock(self) -> SettableClock:
        return self.care.clock

    def agent(self, *offices: str, everywhere: bool = False) -> list[tuple[str, bytes]]:
        return self.care.as_(
            identity_pb2.Principal(
                user="users/agent1",
                username="agent",
                kind=identity_pb2.PRINCIPAL_KIND_STAFF,
                roles=["agent"],
                permissions=AGENT_PERMISSIONS,
                supply_offices=offices,
                all_supply_offices=everywhere,
            )
        )

    def add_feedback(
        self, customer: str, kind: str, hours_ago: float, state: str, **fields: Any
    ) -> str:
        """Feedback about `customer` that came in `hours_ago` before now (due by its
        kind's commitment: complaints and inquiries 24 h, suggestions 10 working days)."""
        created = self.clock.now() - timedelta(hours=hours_ago)
        row = FeedbackRow(
            id=f"f{abs(hash((customer, kind, hours_ago))) % 10**12}",
            kind=kind,
            customer=f"customers/{customer}",
            content="电压不稳",
            state=state,
            author="users/c1",
            supply_office=CUSTOMERS[customer][1],
            due_time=due_time(kind, created, self.care.runtime.calendar),
            create_time=created,
            update_time=created,
            **fields,
        )
        with self.care.runtime.session(write=True) as session:
            session.add(row)
        return row.id

    def add_bills(self, customer: str, amounts_fen: list[int], *, overdue_latest: bool) -> None:
        """Monthly bills, oldest first, ending last month; all paid but the latest,
        which is overdue (unpaid, due a week ago) or paid."""
        today = self.clock.now().date()
        with self.billing.runtime.session(write=True) as session:
            for back, amount in enumerate(reversed(amounts_fen), start=1):
                year, month = divmod(today.year * 12 + today.month - 1 - back, 12)
                latest = back == 1
                unpaid = latest and overdue_latest
                session.add(
                    Bill(
                        customer_id=customer,
                        month=f"{year}-{month + 1:02d}",
                        period_start_date=date(year, month + 1, 1),
                        period_end_date=date(year, month + 1, 28),
                        energy_wh=100_000,
                        amount_fen=amount,
                        tariff_version="v1",
                        state="ISSUED" if unpaid else "PAID",
                        issue_time=self.clock.now() - timedelta(days=20),
                        due_date=today - timedelta(days=7),
                        paid_fen=0 if unpaid else amount,
                    )
                )
            if overdue_latest:
                balance = session.get(BalanceRow, customer)
                assert balance is not None
                balance.net_fen = -amounts_fen[-1]
                session.add(balance)

    def add_outage(self, area: str, days_ago: float, *, state: str = "RESTORED") -> None:
        start = self.clock.now() - timedelta(days=days_ago)
        with self.outage.runtime.session(write=True) as session:
            session.add(
                OutageRow(
                    id=f"o{abs(hash((area, days_ago, state))) % 10**12}",
                    kind="UNPLANNED",
                    state=state,
                    area_codes=[area],
                    start_time=start,
                    restore_time=start + timedelta(hours=3) if state == "RESTORED" else None,
                    reason="线路故障",
                    supply_office="QJ-QL",
                    creator="users/d1",
                    create_time=start,
                    update_time=start,
                )
            )

    def alerts_to(self, user: str) -> list[DeliveryRow]:
        """The deliveries of complaint-risk alerts to `user` at the notification service."""
        with self.notification.runtime.session() as session:
            query = (
                select(DeliveryRow)
                .join(MessageRow, col(MessageRow.id) == col(DeliveryRow.message_id))
                .where(
                    MessageRow.template == "complaint.risk_critical",
                    DeliveryRow.user == user,
                )
            )
            return list(session.exec(query).all())

    def reset(self) -> RiskSystem:
        with self.care.runtime.session(write=True) as session:
            for model in (ComplaintRiskRow, FeedbackEventRow, FeedbackRow):
                session.exec(delete(model))  # type: ignore[call-overload]
        with self.billing.runtime.session(write=True) as session:
            session.exec(delete(Bill))  # type: ignore[call-overload]
            for balance in session.exec(select(BalanceRow)):
                balance.net_fen = 0
                session.add(balance)
        with self.outage.runtime.session(write=True) as session:
            for model in (NoticeRow, ChangeRow, OutageRow):
                session.exec(delete(model))  # type: ignore[call-overload]
        with self.notification.runtime.session(write=True) as session:
            for model in (EventSendRow, DeliveryRow, MessageRow):
                session.exec(delete(model))  # type: ignore[call-overload]
        self.clock.set(START)
        return self


@contextmanager
def risk_system(data_dir: Path, care_database_url: str) -> Iterator[RiskSystem]:
    """Billing, account, outage, notification and care under mTLS; care on
    `care_database_url`."""
    ensure_pki_with_tester(data_dir / "tls")
    ensure_key_pair(data_dir / "identity", "dev")
    common: dict[str, Any] = {
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "log_level": "WARNING",
        "memcached_servers": ("127.0.0.1:1",),
        # The tests' certificate records scores as a scorer outside care would.
        "service_accounts": accounts_with_tester("care.complaintRisks.record"),
    }

    def url(name: str) -> dict[str, str]:
        return {f"{name}_database_url": f"sqlite:///{data_dir / f'{name}.db'}"}

    clock = SettableClock(START)
    with ExitStack() as stack:

        def start(name: str, spec: Any, **targets: str) -> services.Running:
            settings = Settings(**common, **url(name), **targets)
            running = services.start(name, settings, spec)
            stack.callback(services.stop, running)
            return running

        billing = start("billing", billing_spec(BillingConfig(demo_data=False), clock=clock))
        _fill_billing(billing.runtime)
        account = start(
            "account",
            account_spec(config=FAST_ACCOUNT, clock=clock),
            billing_target=billing.target,
        )
        managers = _fill_account(account.runtime)
        outage = start(
            "outage",
            outage_spec(clock=clock, config=fast_config()),
            billing_target=billing.target,
            account_target=account.target,
        )
        notification = start(
            "notification",
            notification_spec(clock=clock, config=NotificationConfig(demo_data=False)),
            account_target=account.target,
        )
        care_settings = Settings(
            **common,
            care_database_url=care_database_url,
            billing_target=billing.target,
            account_target=account.target,
            outage_target=outage.target,
            notification_target=notification.target,
        )
        spec = care_spec(clock=clock, config=CareConfig(demo_data=False))
        care = services.start("care", care_settings, spec)
        stack.callback(services.stop, care)
        credentials = care_settings.client_credentials("cli")
        assert credentials is not None
        channel = grpc.secure_channel(care.target, credentials)
        stack.callback(channel.close)
        signer = load_signer(care_settings.identity_dir, care_settings.identity_key_id)
        server = CareServer(
            care.server,
            care.port,
            care.runtime,
            channel,
            signer,
            clock,
            care_service_pb2_grpc.CareServiceStub(channel),
        )
        worker_config = WorkerConfig(call_timeout_seconds=10)
        worker_settings = care_settings.model_copy(update={"care_target": care.target})
        worker_runtime = open_runtime(worker_settings, worker_config)
        stack.callback(worker_runtime.close)
        worker = Worker(worker_runtime, worker_config, load_jobs(), clock)
        worker.store.sync(worker.schedules)
        yield RiskSystem(server, billing, outage, notification, managers, worker)
