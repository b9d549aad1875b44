"""The expansion service: connection applications (业扩报装) through the workflow nodes
of their kind, with working-day time limits and deadline reminders.

The servicer is composed of method groups, each in its own module: filing
(`servers.expansion.filing`), reads and due lists (`.reads`), moves (`.handling`, over
the table in `.transitions`), documents (`.attachments`) and the node time limits
(`.limit_methods`); the worker's reminder run and the marketing system's steps are the
internal service (`.internal`, `.reminders`, `.steps`).

`make_spec(clock=..., config=...)` builds the ServiceSpec with an injectable clock and
configuration; `SPEC` is the real one. The limits of `workflow.toml` are installed at
every start (only the missing ones); in the dev profile the demo applications are
seeded (`servers.expansion.demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc, expansion_service_pb2_grpc
from servers.expansion import demo
from servers.expansion.attachments import AttachmentMethods
from servers.expansion.config import ExpansionConfig
from servers.expansion.filing import FilingMethods
from servers.expansion.handling import HandlingMethods
from servers.expansion.internal import ExpansionInternalServicer
from servers.expansion.limit_methods import LimitMethods
from servers.expansion.limits import install_defaults
from servers.expansion.reads import ReadMethods
from servers.expansion.reminders import Reminders
from servers.expansion.steps import Steps
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class ExpansionServicer(
    FilingMethods,
    ReadMethods,
    HandlingMethods,
    LimitMethods,
    AttachmentMethods,
    expansion_service_pb2_grpc.ExpansionServiceServicer,
):
    """palmgrid.expansion.v1.ExpansionService."""

    def __init__(self, runtime: Runtime, config: ExpansionConfig, clock: Clock) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock


def make_spec(*, clock: Clock | None = None, config: ExpansionConfig | None = None) -> ServiceSpec:
    """The expansion ServiceSpec with this clock and configuration (default: the wall
    clock, PALMGRID_EXPANSION_* from the environment at start)."""

    now = clock or SYSTEM_CLOCK

    def settings() -> ExpansionConfig:
        return config or ExpansionConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        chosen = runtime.settings_of(ExpansionConfig)
        install_defaults(runtime, now.now())
        return [
            Registration(
                "palmgrid.expansion.v1.ExpansionService",
                ExpansionServicer(runtime, chosen, now),
                expansion_service_pb2_grpc.add_ExpansionServiceServicer_to_server,
            ),
            Registration(
                "palmgrid.expansion.v1.ExpansionInternalService",
                ExpansionInternalServicer(
                    Reminders(runtime, now, chosen), Steps(runtime, now, chosen)
                ),
                expansion_internal_service_pb2_grpc.add_ExpansionInternalServiceServicer_to_server,
            ),
        ]

    return ServiceSpec(
        name="expansion",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=lambda runtime: demo.seed_demo(runtime, now),
    )


SPEC = make_spec()
