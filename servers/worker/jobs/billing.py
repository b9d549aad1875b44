"""Billing's scheduled runs, made by the billing service over gRPC: the month's bills,
the day's late fees and the payment reconciliation of the day before."""

from __future__ import annotations

import time
from datetime import timedelta

import grpc

from palmgrid.billing.v1 import billing_admin_service_pb2 as admin_pb
from palmgrid.billing.v1 import billing_admin_service_pb2_grpc as admin_grpc
from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as internal_grpc
from palmgrid.billing.v1 import payment_pb2
from servers.runtime import CHINA_STANDARD_TIME, error_from_rpc
from servers.worker.job import Job, JobContext, register

PAGE = 200
# How long the reconciliation job waits for the report it started.
RECONCILIATION_WAIT_SECONDS = 300.0
RECONCILIATION_POLL_SECONDS = 1.0


class RunCancelled(RuntimeError):
    """The worker is stopping (or lost the job's lease) before the run ended."""


def _internal(context: JobContext) -> internal_grpc.BillingInternalServiceStub:
    return internal_grpc.BillingInternalServiceStub(context.channel("billing"))


def issue_monthly_bills(context: JobContext) -> str:
    """Page through IssueMonthlyBills (last month, by billing's clock)."""
    stub = _internal(context)
    checked = issued = failed = 0
    token, month = "", ""
    while True:
        reply = stub.IssueMonthlyBills(
            internal_pb.IssueMonthlyBillsRequest(page_size=PAGE, page_token=token),
            **context.call_options().kwargs(),
        )
        month = reply.month
        checked += reply.checked_count
        issued += reply.issued_count
        failed += reply.failed_count
        token = reply.next_page_token
        if not token:
            break
        if context.cancelled.is_set():
            raise RunCancelled(f"stopped after {checked} customers of {month}")
    summary = f"{month}: {issued} bills issued, {checked} customers without one checked"
    if failed:
        raise RuntimeError(f"{summary}; {failed} customers failed (see the billing log)")
    return summary


def accrue_late_fees(context: JobContext) -> str:
    """Page through AccrueLateFees (today, by billing's clock)."""
    stub = _internal(context)
    customers = fen = 0
    token = ""
    while True:
        reply = stub.AccrueLateFees(
            internal_pb.AccrueLateFeesRequest(page_size=PAGE, page_token=token),
            **context.call_options().kwargs(),
        )
        customers += reply.customer_count
        fen += reply.late_fee_fen
        token = reply.next_page_token
        if not token:
            return f"{fen} fen of late fees booked for {customers} customers"
        if context.cancelled.is_set():
            raise RunCancelled(f"stopped after {customers} customers")


def reconcile_yesterday(context: JobContext) -> str:
    """Run the payment reconciliation of yesterday (CST) and wait for its report."""
    stub = admin_grpc.BillingAdminServiceStub(context.channel("billing"))
    yesterday = (context.now().astimezone(CHINA_STANDARD_TIME) - timedelta(days=1)).date()
    name = f"reconciliationReports/{yesterday.isoformat()}"
    try:
        report = stub.RunReconciliation(
            admin_pb.RunReconciliationRequest(name=name), **context.call_options().kwargs()
        )
    except grpc.RpcError as error:
        if error_from_rpc(error).reason != "REQUEST_IN_PROGRESS":
            raise
        report = stub.GetReconciliationReport(
            admin_pb.GetReconciliationReportRequest(name=name), **context.call_options().kwargs()
        )
    deadline = time.monotonic() + RECONCILIATION_WAIT_SECONDS
    while report.state == payment_pb2.RECONCILIATION_STATE_RUNNING:
        if time.monotonic() > deadline or context.cancelled.wait(RECONCILIATION_POLL_SECONDS):
            return f"{name} still running"
        report = stub.GetReconciliationReport(
            admin_pb.GetReconciliationReportRequest(name=name), **context.call_options().kwargs()
        )
    if report.state == payment_pb2.RECONCILIATION_STATE_FAILED:
        raise RuntimeError(f"{name} failed: {report.failure_message}")
    state = payment_pb2.ReconciliationState.Name(report.state).removeprefix("RECONCILIATION_STATE_")
    return f"{name}: {state}, {report.discrepancy_count} discrepancies"


register(
    Job(
        "billing.monthly-bills",
        "monthly 1 02:00",
        issue_monthly_bills,
        "issue last month's bills that are missing",
    )
)
register(Job("billing.late-fees", "daily 00:30", accrue_late_fees, "book the day's late fees"))
register(
    Job(
        "billing.reconciliation",
        "daily 06:00",
        reconcile_yesterday,
        "reconcile yesterday's payments with the providers' statements",
    )
)
