"""The ingest service: data pushed by the marketing and metering systems (and, with
import jobs, read from the marketing system's staging database), checked record by
record, applied through billing, and quarantined when bad.

The servicer is composed of method groups: pushes (`servers.ingest.pushes`), the
quarantine (`.quarantine_methods`) and import jobs (`.imports`, reading `.staging`).

`make_spec(clock=..., config=...)` builds the ServiceSpec with an injectable clock and
configuration; `SPEC` is the real one. In the dev profile the runtime writes the demo
staging database at start (`servers.ingest.demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from palmgrid.ingest.v1 import ingest_service_pb2_grpc
from servers.ingest import demo
from servers.ingest.config import IngestConfig, staging_url
from servers.ingest.imports import ImportMethods, staging_engine_for
from servers.ingest.ingestor import Ingestor
from servers.ingest.pushes import PushMethods
from servers.ingest.quarantine_methods import QuarantineMethods
from servers.ingest.upstream import Upstream
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE = "palmgrid.ingest.v1.IngestService"


class IngestServicer(
    PushMethods,
    QuarantineMethods,
    ImportMethods,
    ingest_service_pb2_grpc.IngestServiceServicer,
):
    """palmgrid.ingest.v1.IngestService."""

    def __init__(self, runtime: Runtime, config: IngestConfig, clock: Clock) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.upstream = Upstream(runtime, config.upstream_timeout_seconds)
        self.ingestor = Ingestor(runtime, self.upstream, clock)
        self.staging_engine = staging_engine_for(staging_url(runtime.settings, config))
        if self.staging_engine is not None:
            runtime.on_close(self.staging_engine.dispose)


def make_spec(*, clock: Clock | None = None, config: IngestConfig | None = None) -> ServiceSpec:
    """The ingest ServiceSpec with this clock and configuration (default: the wall
    clock, PALMGRID_INGEST_* from the environment at start)."""
    now = clock or SYSTEM_CLOCK

    def settings() -> IngestConfig:
        return config or IngestConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        servicer = IngestServicer(runtime, runtime.settings_of(IngestConfig), now)
        return [
            Registration(
                SERVICE, servicer, ingest_service_pb2_grpc.add_IngestServiceServicer_to_server
            )
        ]

    def seed(runtime: Runtime) -> None:
        demo.seed_demo(runtime, now)

    return ServiceSpec(
        name="ingest",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=seed,
    )


SPEC = make_spec()
