"""The inspection service: on-site inspection tasks, the findings recorded on site and
their completion.

The servicer is composed of method groups, each in its own module: tasks
(`servers.inspection.tasks`), findings (`.findings`), completion (`.completion`),
reads (`.reads`) and metering anomalies (`.anomalies`).

`make_spec(clock=..., config=..., archive=..., staff=...)` builds the ServiceSpec with
an injectable clock, configuration, customer archive (default: billing) and staff
directory (default: account); `SPEC` is the real one. In the dev profile the runtime
seeds the demo tasks at start (`servers.inspection.demo`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from palmgrid.inspection.v1 import inspection_service_pb2_grpc
from servers.inspection import demo
from servers.inspection.anomalies import AnomalyMethods
from servers.inspection.completion import CompletionMethods
from servers.inspection.config import InspectionConfig
from servers.inspection.customers import BillingCustomerArchive, CustomerArchive
from servers.inspection.findings import FindingMethods
from servers.inspection.reads import ReadMethods
from servers.inspection.staff import AccountStaff, Staff
from servers.inspection.tasks import TaskMethods
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class InspectionServicer(
    TaskMethods,
    FindingMethods,
    CompletionMethods,
    ReadMethods,
    AnomalyMethods,
    inspection_service_pb2_grpc.InspectionServiceServicer,
):
    """palmgrid.inspection.v1.InspectionService."""

    def __init__(
        self,
        runtime: Runtime,
        config: InspectionConfig,
        clock: Clock,
        archive: CustomerArchive,
        staff: Staff,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.archive = archive
        self.staff = staff


def _archive(runtime: Runtime) -> CustomerArchive:
    config = runtime.settings_of(InspectionConfig)
    return BillingCustomerArchive(runtime, config.upstream_timeout_seconds)


def _staff(runtime: Runtime) -> Staff:
    config = runtime.settings_of(InspectionConfig)
    return AccountStaff(runtime, config.upstream_timeout_seconds)


def make_spec(
    *,
    clock: Clock | None = None,
    config: InspectionConfig | None = None,
    archive: Callable[[Runtime], CustomerArchive] = _archive,
    staff: Callable[[Runtime], Staff] = _staff,
) -> ServiceSpec:
    """The inspection ServiceSpec with this clock, configuration, customer archive and
    staff directory (default: the wall clock, PALMGRID_INSPECTION_* from the
    environment at start, billing's archive and account's users)."""

    now = clock or SYSTEM_CLOCK

    def settings() -> InspectionConfig:
        return config or InspectionConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(InspectionConfig)
        servicer = InspectionServicer(runtime, chosen, now, archive(runtime), staff(runtime))
        return [
            Registration(
                "palmgrid.inspection.v1.InspectionService",
                servicer,
                inspection_service_pb2_grpc.add_InspectionServiceServicer_to_server,
            )
        ]

    def seed(runtime: Runtime) -> None:
        demo.seed_demo(runtime, now, archive(runtime), staff(runtime))

    return ServiceSpec(
        name="inspection",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=seed,
    )


SPEC = make_spec()
