"""The outage service: its contract is declared and served; every RPC answers
UNIMPLEMENTED until its logic is built (see servers.runtime.declared)."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.outage.v1 import outage_service_pb2_grpc
from servers.runtime import Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared_only


def registrations(runtime: Runtime) -> Sequence[Registration]:
    return [
        declared_only(outage_service_pb2_grpc, "palmgrid.outage.v1.OutageService"),
    ]


SPEC = ServiceSpec(name="outage", registrations=registrations)
