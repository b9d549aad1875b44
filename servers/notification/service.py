"""The notification service: its contract is declared and served; every RPC answers
UNIMPLEMENTED until its logic is built (see servers.runtime.declared)."""

from __future__ import annotations

from collections.abc import Sequence

from palmgrid.notification.v1 import notification_service_pb2_grpc
from servers.runtime import Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared_only


def registrations(runtime: Runtime) -> Sequence[Registration]:
    return [
        declared_only(
            notification_service_pb2_grpc, "palmgrid.notification.v1.NotificationService"
        ),
    ]


SPEC = ServiceSpec(name="notification", registrations=registrations)
