"""The wired jobs against real servers over mTLS, as the `worker` service account:
billing's monthly bills and late fees are made by billing, a notification service
that answers UNIMPLEMENTED is a failed run (not a crashed worker), and the status
shows each job's last run, duration, outcome and next run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from opentelemetry.trace import SpanKind
from rich.console import Console
from sqlmodel import select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as internal_grpc
from palmgrid.notification.v1 import notification_service_pb2_grpc
from servers.billing.config import BillingConfig
from servers.billing.models import Bill
from servers.billing.service import make_spec as billing_spec
from servers.runtime import (
    CHINA_STANDARD_TIME,
    Runtime,
    Server,
    SettableClock,
    Settings,
    build_server,
    create_server,
    error_from_rpc,
    identity,
    session_scope,
    tls,
)
from servers.runtime.declared import declared_only
from servers.runtime.metrics import start_metrics_server
from servers.runtime.service import prepare_dev_material
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.jobs import billing as billing_jobs
from servers.worker.models import FAILED, OK
from servers.worker.process import open_runtime
from servers.worker.runner import Worker
from servers.worker.status import job_statuses, status_table
from tests.audit_log import with_audit_log
from tests.billing.core_support import make_customer
from tests.billing.records import customer_record, reading, readings_request, upsert_request
from tests.scrape import scrape, value
from tests.spans import by_trace, hex_id, recording
from tests.worker.support import ROOT

KWH = 1000
# 22:00 CST on 29 February: January is complete, February not yet.
LEAP_EVENING = datetime(2024, 2, 29, 22, tzinfo=CHINA_STANDARD_TIME)


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)


@dataclass
class System:
    clock: SettableClock
    settings: Settings
    billing: Runtime
    worker: Worker

    def internal(self) -> internal_grpc.BillingInternalServiceStub:
        """Billing's internal service as the worker calls it."""
        return internal_grpc.BillingInternalServiceStub(self.worker.runtime.channel("billing"))

    def ingest(self) -> internal_grpc.BillingInternalServiceStub:
        """Billing's internal service as ingest calls it (customers and readings)."""
        credentials = self.settings.client_credentials("ingest")
        assert credentials is not None
        channel = grpc.secure_channel(self.settings.service_address("billing"), credentials)
        return internal_grpc.BillingInternalServiceStub(channel)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Billing (dev PKI, mTLS) with a clock the tests move, a notification service that
    is only declared, and a worker (not started: the tests run its jobs) whose settings
    point at both."""
    data_dir = tmp_path_factory.mktemp("jobs")
    clock = SettableClock(LEAP_EVENING.astimezone(UTC))
    base = Settings(data_dir=data_dir, log_level="WARNING")
    prepare_dev_material(base)
    billing, billing_port, billing_runtime = build_server(
        with_audit_log(billing_spec(BillingConfig(demo_data=False), clock=clock)),
        base,
        address="127.0.0.1:0",
    )
    billing.start()
    notification, notification_port = _declared_notification(base)
    notification.start()
    settings = base.model_copy(
        update={
            "billing_target": f"127.0.0.1:{billing_port}",
            "notification_target": f"127.0.0.1:{notification_port}",
        }
    )
    config = WorkerConfig(call_timeout_seconds=10)
    runtime = open_runtime(settings, config)
    worker = Worker(runtime, config, load_jobs(), clock)
    worker.store.sync(worker.schedules)
    try:
        yield System(clock, settings, billing_runtime, worker)
    finally:
        runtime.close()
        notification.stop(0)
        billing.stop(0)
        billing_runtime.close()


def _declared_notification(settings: Settings) -> tuple[Server, int]:
    return create_server(
        [
            declared_only(
                notification_service_pb2_grpc, "palmgrid.notification.v1.NotificationService"
            )
        ],
        domain="notification",
        credentials=tls.server_credentials_for(settings),
        verifier=identity.AssertionVerifier(
            identity.KeyDirectory(settings.identity_dir), audience="notification"
        ),
        service_accounts=settings.service_accounts,
    )


def _bills(system: System, customer: str) -> list[str]:
    with session_scope(system.billing.engine) as session:
        return sorted(session.exec(select(Bill.month).where(Bill.customer_id == customer)).all())


def test_the_monthly_job_issues_last_months_missing_bills_through_billing(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = system.ingest()
    stub.BatchUpsertCustomers(
        upsert_request(customer_record("3100000001"), customer_record("3100000002"))
    )
    # The meter is read at midnight; on the evening before, February has not ended.
    stub.BatchUpsertMeterReadings(
        readings_request(
            reading("3100000001", "M1", "r-01", month_start(2024, 1), 0),
            reading("3100000001", "M1", "r-02", month_start(2024, 2), 170 * KWH),
            reading("3100000001", "M1", "r-03", month_start(2024, 3), 300 * KWH),
        )
    )
    assert _bills(system, "3100000001") == ["2024-01"]
    system.clock.set(datetime(2024, 3, 1, 2, tzinfo=CHINA_STANDARD_TIME))
    # One customer per call, so the job pages through billing's answers.
    monkeypatch.setattr("servers.worker.jobs.billing.PAGE", 1)
    outcome, message = system.worker.run_now("billing.monthly-bills") or ("", "")
    assert (outcome, message) == (
        OK,
        "2024-02: 1 bills issued, 2 customers without one checked",
    )
    assert _bills(system, "3100000001") == ["2024-01", "2024-02"]
    assert _bills(system, "3100000002") == []  # no readings, no bill
    again = system.worker.run_now("billing.monthly-bills")
    assert again == (OK, "2024-02: 0 bills issued, 1 customers without one checked")


def test_the_late_fee_job_books_the_days_fees_through_billing(system: System) -> None:
    with session_scope(system.billing.engine, write=True) as session:
        make_customer(session, "3100000009")
        session.add(
            Bill(
                customer_id="3100000009",
                month="2024-01",
                period_start_date=date(2024, 1, 1),
                period_end_date=date(2024, 1, 31),
                energy_wh=100 * KWH,
                amount_fen=10_000,
                tariff_version="tariffs/residential-tiered/versions/2012-07-01",
                issue_time=datetime(2024, 2, 1, tzinfo=UTC),
                due_date=date(2024, 2, 16),
                state="ISSUED",
            )
        )
    system.clock.set(datetime(2024, 3, 2, 9, tzinfo=CHINA_STANDARD_TIME))  # 15 days late
    result = system.worker.run_now("billing.late-fees")
    assert result == (OK, "150 fen of late fees booked for 1 customers")
    with session_scope(system.billing.engine) as session:
        bill = session.get(Bill, ("3100000009", "2024-01"))
        assert bill is not None and (bill.late_fee_fen, bill.state) == (150, "OVERDUE")
    assert system.worker.run_now("billing.late-fees") == (
        OK,
        "0 fen of late fees booked for 0 customers",
    )


def test_the_billing_runs_page_with_tokens_of_their_own(system: System) -> None:
    stub = system.internal()
    first = stub.IssueMonthlyBills(
        internal_pb.IssueMonthlyBillsRequest(month="2024-02", page_size=1)
    )
    assert first.next_page_token
    with pytest.raises(grpc.RpcError) as refused:
        stub.IssueMonthlyBills(
            internal_pb.IssueMonthlyBillsRequest(month="2024-01", page_token=first.next_page_token)
        )
    error = error_from_rpc(refused.value)
    assert [v.field for v in error.field_violations] == ["pageToken"]


def test_an_unimplemented_notification_service_is_a_failed_run(system: System) -> None:
    outcome, message = system.worker.run_now("notification.delivery") or ("", "")
    assert outcome == FAILED
    assert message.startswith("UNIMPLEMENTED: ")
    # The worker goes on: the next job runs.
    assert system.worker.run_now("billing.late-fees") is not None


def test_the_prewarm_job_outside_its_window_opens_nothing_and_succeeds(system: System) -> None:
    # 22:00 CST is outside the default 02:00-06:00 window: no cache key file, no
    # Memcached and no account service are needed to say so.
    outcome, message = system.worker.run_now("edge.prewarm") or ("", "")
    assert (outcome, message) == (OK, "outside-window")


def test_a_reconciliation_still_running_when_the_wait_ends_is_a_failed_run(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_jobs, "RECONCILIATION_WAIT_SECONDS", -1.0)  # no wait at all
    outcome, message = system.worker.run_now("billing.reconciliation") or ("", "")
    assert outcome == FAILED
    assert "still running after -1 s: not finished" in message


def test_the_status_shows_last_run_duration_outcome_and_next_run(system: System) -> None:
    now = system.clock.now()
    system.worker.run_now("notification.delivery")
    system.worker.run_now("billing.late-fees")
    statuses = {s.name: s for s in job_statuses(system.worker.runtime.engine, now)}
    assert set(statuses) >= {
        "notification.delivery",
        "billing.monthly-bills",
        "billing.late-fees",
        "billing.reconciliation",
        "account.housekeeping",
    }
    delivery = statuses["notification.delivery"]
    assert (delivery.last_outcome, delivery.last_start_time) == (FAILED, now)
    assert delivery.last_duration is not None and delivery.running_on == ""
    assert delivery.next_run_time == now + timedelta(seconds=10)
    fees = statuses["billing.late-fees"]
    assert fees.last_outcome == OK and fees.last_message.endswith("for 0 customers")
    assert fees.next_run_time == datetime(2024, 3, 3, 0, 30, tzinfo=CHINA_STANDARD_TIME)
    never = statuses["account.housekeeping"]
    assert (never.last_outcome, never.last_start_time, never.run_count) == ("", None, 0)
    console = Console(record=True, width=200)
    console.print(status_table(list(statuses.values())))
    text = console.export_text()
    assert "billing.late-fees" in text and "2024-03-03 00:30:00" in text
    assert "FAILED: UNIMPLEMENTED" in text and "never run" in text


def test_the_status_command_prints_the_table(system: System) -> None:
    env = {
        "PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}",
        "PALMGRID_DATA_DIR": str(system.settings.data_dir),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "servers.worker", "status"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "billing.monthly-bills" in result.stdout and "monthly 1 02:00" in result.stdout
    assert "FAILED: UNIMPLEMENTED" in result.stdout


def test_job_runs_are_counted_on_the_metrics_port_by_outcome(system: System) -> None:
    metrics = start_metrics_server("127.0.0.1", 0)
    url = f"http://127.0.0.1:{metrics.server_port}/metrics"
    try:
        before = scrape(url)
        system.worker.run_now("edge.prewarm")
        system.worker.run_now("notification.delivery")
        after = scrape(url)
    finally:
        metrics.shutdown()
    for job, outcome in (("edge.prewarm", OK), ("notification.delivery", FAILED)):
        runs = {"job": job, "outcome": outcome}
        assert value(after, "palmgrid_job_runs_total", **runs) == (
            value(before, "palmgrid_job_runs_total", **runs) + 1
        )
        assert value(after, "palmgrid_job_duration_seconds_count", job=job) == (
            value(before, "palmgrid_job_duration_seconds_count", job=job) + 1
        )


def test_a_job_run_is_one_trace_down_to_the_service_it_calls(system: System) -> None:
    with recording() as exporter:
        assert system.worker.run_now("billing.late-fees") is not None
        spans = exporter.get_finished_spans()
    run = [s for s in spans if s.name == "job billing.late-fees"]
    assert len(run) == 1 and run[0].parent is None
    trace = by_trace(spans, hex_id(run[0].context.trace_id))
    served = [s for s in trace if s.kind is SpanKind.SERVER and "BillingInternalService" in s.name]
    assert served, [s.name for s in trace]
    by_id = {s.context.span_id: s for s in trace}
    for span in served:  # each server span leads back to the run through the client span
        parent = by_id[span.parent.span_id]
        assert parent.kind is SpanKind.CLIENT
        assert parent.parent is not None and parent.parent.span_id == run[0].context.span_id
