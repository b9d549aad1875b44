"""The worker as a gRPC server: its ServiceSpec, serving palmgrid.worker.v1.WorkerService
(servers.worker.api) on `PALMGRID_WORKER_PORT` through the shared runtime (mTLS,
identity assertions, access checks, audit, health), beside the job loop."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.worker.v1 import worker_service_pb2_grpc
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec
from servers.worker.api import WorkerServicer
from servers.worker.config import WorkerConfig
from servers.worker.process import MIGRATIONS, NAME


def make_spec(*, clock: Clock | None = None, config: WorkerConfig | None = None) -> ServiceSpec:
    """The worker's ServiceSpec (default: the wall clock, PALMGRID_WORKER_* read at start)."""
    now = clock or SYSTEM_CLOCK

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        return [
            Registration(
                "palmgrid.worker.v1.WorkerService",
                WorkerServicer(runtime, now),
                worker_service_pb2_grpc.add_WorkerServiceServicer_to_server,
            )
        ]

    return ServiceSpec(
        name=NAME,
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=lambda: config or WorkerConfig.load(),
    )


SPEC = make_spec()
