"""The service accounts: what each of our processes, known by its mTLS certificate's CN,
may call. One reviewed table, least privilege: a process holds exactly the permissions
of the methods it calls, and a call outside its row is refused like anyone else's
(PERMISSION_DENIED). Calls a process makes on behalf of a user carry the user's own
assertion instead, and the user's permissions count.

To let a process call one more method, add that method's permission (its
`(palmgrid.options.v1.method).access.permission`) to the process's row, with the
reason. `tests/runtime/test_service_accounts.py` checks that every permission here is
one a method declares (or is listed in `PLANNED_PERMISSIONS`, for RPCs being built).
`PALMGRID_SERVICE_ACCOUNTS` replaces the whole table in a deployment.
"""

from __future__ import annotations

from pydantic import BaseModel

# Every server writes the audit records of its `audited` methods to the account log.
AUDIT_WRITE = "account.auditRecords.create"


class ServiceAccount(BaseModel):
    """What a caller authenticated by an mTLS client certificate (by its CN) may do."""

    model_config = {"frozen": True}

    roles: tuple[str, ...] = ()
    # Exact permissions, or patterns ending in "*" ("billing.*", "*"): patterns only in
    # a deployment's own table, never in the defaults below.
    permissions: tuple[str, ...] = ()
    # Whether its data scope covers every supply office, customer and user. Our back-end
    # processes act for the whole utility; the edge and the CLI act only for users.
    all_supply_offices: bool = False


def _service(*permissions: str) -> ServiceAccount:
    """A back-end process: the given permissions, all supply offices."""
    return ServiceAccount(roles=("service",), permissions=permissions, all_supply_offices=True)


DEFAULT_SERVICE_ACCOUNTS: dict[str, ServiceAccount] = {
    # The edge exchanges session tokens for assertions, watches revocations and audits
    # refused envelopes; every other call it makes carries the user's own assertion.
    "edge": ServiceAccount(
        roles=("edge",),
        permissions=(
            "account.sessions.authenticate",
            "account.revocations.watch",
            "account.assertionKeys.list",
            AUDIT_WRITE,
        ),
    ),
    # The staff CLI's certificate only proves it is the CLI: staff sign in and the CLI
    # forwards their assertion.
    "cli": ServiceAccount(roles=("cli",), permissions=("account.sessions.authenticate",)),
    # The utility's source systems push data through ingest only, each its own kinds:
    # marketing the archive, tariff assignments, payments made outside the app and
    # connection applications' progress.
    "marketing": ServiceAccount(
        roles=("service",),
        permissions=(
            "ingest.customerChanges.push",
            "ingest.tariffAssignments.push",
            "ingest.payments.push",
            "ingest.applicationUpdates.push",
        ),
    ),
    "metering": ServiceAccount(
        roles=("service",), permissions=("ingest.meterReadings.push", "ingest.dailyReadings.push")
    ),
    # The account service keeps the audit log itself; it asks billing whether a customer
    # can be bound and sends the binding code and notices through notification.
    "account": _service("billing.customers.verifyBinding", "notification.messages.create"),
    # Billing sends bill, payment and low-balance alerts through notification.
    "billing": _service(AUDIT_WRITE, "notification.messages.create"),
    # Care routes feedback to the customer's supply office (read from billing), checks
    # and names assignees (account), tells authors of their feedback's progress
    # (notification); complaint-risk scoring reads billing signals, area outages and
    # the care managers to alert (account), and alerts them through notification.
    "care": _service(
        AUDIT_WRITE,
        "billing.customers.batchGet",
        "billing.billingSignals.list",
        "outage.areaOutages.list",
        "account.users.batchGet",
        "account.users.list",
        "notification.messages.create",
    ),
    # Outage finds the customers of affected areas (and one customer's office), reads
    # the notice period, and queues notices for them at the notification service.
    "outage": _service(
        AUDIT_WRITE,
        "billing.customers.listByArea",
        "billing.customers.batchGet",
        "account.systemParameters.get",
        "notification.messages.create",
    ),
    # Expansion routes an application to its customer's supply office (billing), checks
    # handlers and finds an office's connection staff to remind (account), and tells
    # applicants and staff through notification.
    "expansion": _service(
        AUDIT_WRITE,
        "billing.customers.batchGet",
        "account.users.batchGet",
        "account.users.list",
        "notification.messages.create",
    ),
    # Inspection reads the customer's office, name and address (billing), checks the
    # assignees and finds the office's inspection managers (account), and tells them and
    # the assigned inspectors through notification.
    "inspection": _service(
        AUDIT_WRITE,
        "billing.customers.batchGet",
        "account.users.batchGet",
        "account.users.list",
        "notification.messages.create",
    ),
    # Ingest hands customer changes, meter readings and payments made outside the app
    # (reported by the marketing system) on to billing, after checking them against the
    # archive (customers, meters, tariffs, the previous reading); a reading that goes
    # backwards is reported to inspection as a metering anomaly; the marketing system's
    # steps on connection applications go to expansion.
    "ingest": _service(
        AUDIT_WRITE,
        "billing.customers.batchGet",
        "billing.customers.upsert",
        "billing.meterReadings.list",
        "billing.meterReadings.upsert",
        "billing.dailyUsage.upsert",
        "billing.payments.record",
        "inspection.anomalies.record",
        "expansion.applicationSteps.record",
    ),
    # Notification finds who should hear of something and files the in-app copies.
    "notification": _service(AUDIT_WRITE, "account.recipients.lookup", "account.messages.create"),
    # The worker's scheduled jobs (servers/worker/jobs): billing's monthly bills, late
    # fees and reconciliation, message delivery, account housekeeping, care's closing
    # of resolved feedback and complaint-risk scoring, outage's clock, connection node
    # reminders, the staging import.
    "worker": _service(
        AUDIT_WRITE,
        "billing.bills.issue",
        "billing.lateFees.accrue",
        "billing.reconciliationReports.run",
        "billing.reconciliationReports.get",
        "notification.messages.deliver",
        "account.housekeeping.run",
        "care.feedback.closeResolved",
        "care.complaintRisks.score",
        "outage.clock.run",
        "expansion.reminders.run",
        "ingest.importJobs.create",
        "ingest.importJobs.list",
        "ingest.importJobs.run",
    ),
    # The worker's pre-warm (docs/caching.md): it lists active users and reads the hot
    # data it caches for them, nothing else (any customer's, hence every supply office).
    "prewarm": _service(
        "account.activeUsers.list",
        "billing.balances.get",
        "billing.monthlyUsage.list",
        "billing.bills.list",
    ),
}

# Permissions in the table whose RPCs are still being built; the test that every
# permission names a declared method skips these until they land. Empty: all are built.
PLANNED_PERMISSIONS: frozenset[str] = frozenset()
