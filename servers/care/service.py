"""The care service: service outlets, notices and news, feedback and complaints.

The servicer is composed of method groups, each in its own module: outlets
(`servers.care.outlets`), articles (`.article_reads`, `.article_editing`) and feedback
(`.feedback_submission`, `.feedback_reads`, `.feedback_handling`,
`.feedback_closing`). RPCs not built yet
(complaint risks) answer UNIMPLEMENTED through `servers.runtime.declared`.

`make_spec(clock=..., config=..., customer_offices=...)` builds the ServiceSpec with an
injectable clock, configuration and source of customers' supply offices (default:
billing); `SPEC` is the real one. In the dev profile the runtime seeds the demo outlets
and articles at start (`servers.care.startup`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from palmgrid.care.v1 import care_service_pb2_grpc
from servers.care import startup
from servers.care.article_editing import ArticleEditingMethods
from servers.care.article_reads import ArticleReadMethods
from servers.care.config import CareConfig
from servers.care.customers import BillingCustomerOffices, CustomerOffices
from servers.care.feedback_closing import FeedbackClosingMethods
from servers.care.feedback_handling import FeedbackHandlingMethods
from servers.care.feedback_reads import FeedbackReadMethods
from servers.care.feedback_submission import FeedbackSubmissionMethods
from servers.care.outlets import OutletMethods
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
    care_service_pb2_grpc.CareServiceServicer,
):
    """palmgrid.care.v1.CareService."""

    def __init__(
        self,
        runtime: Runtime,
        config: CareConfig,
        clock: Clock,
        customer_offices: CustomerOffices,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.customer_offices = customer_offices


def make_spec(
    *,
    clock: Clock | None = None,
    config: CareConfig | None = None,
    customer_offices: Callable[[Runtime], CustomerOffices] = BillingCustomerOffices,
) -> ServiceSpec:
    """The care ServiceSpec with this clock, configuration and customer offices
    (default: the wall clock, PALMGRID_CARE_* from the environment at start, and
    billing's archive)."""

    now = clock or SYSTEM_CLOCK

    def settings() -> CareConfig:
        return config or CareConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(CareConfig)
        offices = customer_offices(runtime)
        # The generated stub declares every RPC abstract; `declared` answers the ones
        # not built yet with UNIMPLEMENTED, hence the ignore.
        servicer = CareServicer(runtime, chosen, now, offices)  # type: ignore[abstract]
        return [declared(care_service_pb2_grpc, "palmgrid.care.v1.CareService", servicer)]

    return ServiceSpec(
        name="care",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=lambda runtime: startup.seed_demo(runtime, now),
    )


SPEC = make_spec()
