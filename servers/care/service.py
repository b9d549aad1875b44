"""The care service: service outlets, notices and news, feedback and complaints.

The servicer is composed of method groups, each in its own module: outlets
(`servers.care.outlets`), articles (`.article_reads`, `.article_editing`) and feedback
(`.feedback_submission`, `.feedback_reads`, `.feedback_handling`,
`.feedback_closing`) and complaint risks (`.risk_scoring`, `.risk_reads`). RPCs not
built yet answer UNIMPLEMENTED through `servers.runtime.declared`.

`make_spec(clock=..., config=..., customer_offices=..., risk_managers=...)` builds the
ServiceSpec with an injectable clock, configuration, source of customers' supply offices
(default: billing) and of offices' care managers (default: account); `SPEC` is the real
one. In the dev profile the runtime seeds the demo outlets,
articles and feedback at start (`servers.care.startup`, `servers.care.risk_demo`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from palmgrid.care.v1 import care_service_pb2_grpc
from servers.care import risk_demo, startup
from servers.care.article_editing import ArticleEditingMethods
from servers.care.article_reads import ArticleReadMethods
from servers.care.config import CareConfig
from servers.care.customers import BillingCustomerOffices, CustomerOffices
from servers.care.feedback_closing import FeedbackClosingMethods
from servers.care.feedback_handling import FeedbackHandlingMethods
from servers.care.feedback_reads import FeedbackReadMethods
from servers.care.feedback_submission import FeedbackSubmissionMethods
from servers.care.outlets import OutletMethods
from servers.care.risk_alerts import AccountManagers, Managers
from servers.care.risk_reads import RiskReadMethods
from servers.care.risk_scoring import RiskScoringMethods
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class CareServicer(
    OutletMethods,
    ArticleReadMethods,
    ArticleEditingMethods,
    FeedbackSubmissionMethods,
    FeedbackReadMethods,
    FeedbackHandlingMethods,
    FeedbackClosingMethods,
    RiskScoringMethods,
    RiskReadMethods,
    care_service_pb2_grpc.CareServiceServicer,
):
    """palmgrid.care.v1.CareService."""

    def __init__(
        self,
        runtime: Runtime,
        config: CareConfig,
        clock: Clock,
        customer_offices: CustomerOffices,
        risk_managers: Managers,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.customer_offices = customer_offices
        self.risk_managers = risk_managers


def make_spec(
    *,
    clock: Clock | None = None,
    config: CareConfig | None = None,
    customer_offices: Callable[[Runtime], CustomerOffices] = BillingCustomerOffices,
    risk_managers: Callable[[Runtime], Managers] = AccountManagers,
) -> ServiceSpec:
    """The care ServiceSpec with this clock, configuration, customer offices and care
    managers (default: the wall clock, PALMGRID_CARE_* from the environment at start,
    billing's archive and account's users)."""

    now = clock or SYSTEM_CLOCK

    def settings() -> CareConfig:
        return config or CareConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(CareConfig)
        offices = customer_offices(runtime)
        # The generated stub declares every RPC abstract; `declared` answers the ones
        # not built yet with UNIMPLEMENTED, hence the ignore.
        managers = risk_managers(runtime)
        servicer = CareServicer(runtime, chosen, now, offices, managers)  # type: ignore[abstract]
        return [declared(care_service_pb2_grpc, "palmgrid.care.v1.CareService", servicer)]

    def seed(runtime: Runtime) -> None:
        startup.seed_demo(runtime, now)
        risk_demo.seed_demo(runtime, now, risk_managers(runtime))

    return ServiceSpec(
        name="care",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=seed,
    )


SPEC = make_spec()
