"""The ingest service: its contract is declared and served; every RPC answers
UNIMPLEMENTED until its logic is built (see servers.runtime.declared)."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.ingest.v1 import ingest_service_pb2_grpc
from servers.runtime import Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared_only


def registrations(runtime: Runtime) -> Sequence[Registration]:
    return [
        declared_only(ingest_service_pb2_grpc, "palmgrid.ingest.v1.IngestService"),
    ]


SPEC = ServiceSpec(name="ingest", registrations=registrations)
