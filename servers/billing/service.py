"""The billing service: customer archive, usage, tariffs, bills, ledger and payments.

Methods the contract marks `audited` leave audit records: the runtime writes them.

Each gRPC service is one servicer class composed of method groups, each in its own
module: reads and the archive (`servers.billing.reads`, `.admin`, `.internal`) and
payments (`servers.billing.payments.methods`). Every RPC is built; one that is not yet
would be registered through `servers.runtime.declared` (the server refuses to start
with an RPC left to the generated base class).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from palmgrid.billing.v1 import (
    billing_admin_service_pb2_grpc,
    billing_internal_service_pb2_grpc,
    billing_service_pb2_grpc,
)
from servers.billing import startup
from servers.billing.admin import AdminMethods
from servers.billing.billing_signals import BillingSignalMethods
from servers.billing.config import BillingConfig
from servers.billing.insight_reads import InsightMethods
from servers.billing.internal import InternalMethods
from servers.billing.payments import methods as payment_methods
from servers.billing.payments.methods import PaymentAdminMethods, PaymentMethods
from servers.billing.payments.service import payment_service
from servers.billing.reads import ReadMethods
from servers.billing.scheduled_runs import ScheduledRunMethods
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec


class BillingServicer(
    PaymentMethods, ReadMethods, InsightMethods, billing_service_pb2_grpc.BillingServiceServicer
):
    """palmgrid.billing.v1.BillingService: what phones call."""

    def __init__(self, runtime: Runtime, config: BillingConfig, clock: Clock) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock


class BillingAdminServicer(
    PaymentAdminMethods, AdminMethods, billing_admin_service_pb2_grpc.BillingAdminServiceServicer
):
    """palmgrid.billing.v1.BillingAdminService: staff and administrators."""

    def __init__(self, runtime: Runtime, config: BillingConfig, clock: Clock) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock


# BatchRecordExternalPayments belongs to the payments part: its method group joins the
# internal servicer as soon as servers.billing.payments.methods defines it.
class _NoPaymentInternalMethods:
    pass


PaymentInternalMethods: type = getattr(
    payment_methods, "PaymentInternalMethods", _NoPaymentInternalMethods
)


class BillingInternalServicer(
    PaymentInternalMethods,  # type: ignore[misc,valid-type]
    InternalMethods,
    BillingSignalMethods,
    ScheduledRunMethods,
    billing_internal_service_pb2_grpc.BillingInternalServiceServicer,
):
    """palmgrid.billing.v1.BillingInternalService: other PalmGrid services."""

    def __init__(self, runtime: Runtime, config: BillingConfig, clock: Clock) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock


def make_spec(config: BillingConfig | None = None, *, clock: Clock | None = None) -> ServiceSpec:
    """The billing service with `config` (default: PALMGRID_BILLING_* from the
    environment at start) and `clock` (default: the wall clock), which every rule that
    depends on the current time reads: bill states, due dates, late fees, payment expiry."""
    chosen_clock = clock or SYSTEM_CLOCK

    def settings() -> BillingConfig:
        return config or BillingConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(BillingConfig)
        startup.prepare(runtime, chosen_clock)
        return [
            Registration(
                "palmgrid.billing.v1.BillingService",
                BillingServicer(runtime, chosen, chosen_clock),
                billing_service_pb2_grpc.add_BillingServiceServicer_to_server,
            ),
            Registration(
                "palmgrid.billing.v1.BillingAdminService",
                BillingAdminServicer(runtime, chosen, chosen_clock),
                billing_admin_service_pb2_grpc.add_BillingAdminServiceServicer_to_server,
            ),
            Registration(
                "palmgrid.billing.v1.BillingInternalService",
                BillingInternalServicer(runtime, chosen, chosen_clock),
                billing_internal_service_pb2_grpc.add_BillingInternalServiceServicer_to_server,
            ),
        ]

    return ServiceSpec(
        name="billing",
        registrations=registrations,
        migrations=Path(__file__).resolve().parent / "migrations",
        # Pending payments are recovered at start, not only when the next payment call comes.
        on_start=lambda runtime: payment_service(runtime, clock=chosen_clock),
        settings=settings,
        seed_demo=lambda runtime: startup.seed_demo(runtime, chosen_clock),
    )


SPEC = make_spec()
