"""The notification service: the durable outbox of in-app, SMS and push messages.

The servicer is composed of method groups, each in its own module: creating messages
(`creation`), delivering the due ones (`delivering`), reading the outbox (`reads`) and
cancelling (`cancelling`). It reaches the account service for recipients and inboxes
(`accounts`) and the SMS and push gateways over HTTP (`gateways`); templates are data
(`templates.toml`), quiet hours and the retry policy settings (`config`).

`make_spec(clock=..., config=...)` builds the ServiceSpec with an injectable clock and
configuration; `SPEC` is the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from palmgrid.notification.v1 import notification_service_pb2_grpc
from servers.notification.accounts import AccountDirectory
from servers.notification.cancelling import CancelMethods
from servers.notification.config import NotificationConfig
from servers.notification.creation import CreationMethods
from servers.notification.delivering import DeliveryMethods
from servers.notification.gateways import Gateways
from servers.notification.outbox_metrics import register_outbox_gauges
from servers.notification.quiet_hours import QuietHours
from servers.notification.reads import ReadMethods
from servers.notification.templates import Templates, load_templates
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec
from servers.runtime.declared import declared

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE = "palmgrid.notification.v1.NotificationService"


class NotificationServicer(
    CreationMethods,
    DeliveryMethods,
    ReadMethods,
    CancelMethods,
    notification_service_pb2_grpc.NotificationServiceServicer,
):
    """palmgrid.notification.v1.NotificationService."""

    def __init__(
        self, runtime: Runtime, config: NotificationConfig, clock: Clock, templates: Templates
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.templates = templates
        self.quiet_hours = QuietHours.parse(config.quiet_hours_start, config.quiet_hours_end)
        self.accounts = AccountDirectory(runtime, config.account_timeout_seconds)
        self.gateways = Gateways(config.sms_gateway_url, config.push_gateway_url)
        runtime.on_close(self.gateways.close)


def make_spec(
    *, clock: Clock | None = None, config: NotificationConfig | None = None
) -> ServiceSpec:
    """The notification ServiceSpec with this clock and configuration (default: the
    wall clock and PALMGRID_NOTIFICATION_* from the environment at start)."""

    now = clock or SYSTEM_CLOCK

    def settings() -> NotificationConfig:
        return config or NotificationConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(NotificationConfig)
        servicer = NotificationServicer(runtime, chosen, now, load_templates())
        register_outbox_gauges(runtime, now)
        return [declared(notification_service_pb2_grpc, SERVICE, servicer)]

    return ServiceSpec(
        name="notification",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
    )


SPEC = make_spec()
