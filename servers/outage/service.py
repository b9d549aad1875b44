"""The outage service: planned and unplanned outages, their affected areas and
customers, restoration estimates, the watch stream and the messages to subscribers.

The servicer is composed of method groups, each in its own module: reads
(`servers.outage.reads`), announcing and changing (`.announcing`), cancel and restore
(`.transitions`) and the watch stream (`.watching`). What the process shares — the
change feed, the notice dispatcher, the clock's jobs, the clients of billing and
account — is built once per Runtime (`servers.outage.process`).

`make_spec(clock=..., config=...)` builds the ServiceSpec with an injectable clock and
configuration; `SPEC` is the real one. In the dev profile the runtime seeds the demo
outages at start (`servers.outage.demo`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from palmgrid.outage.v1 import outage_service_pb2_grpc
from servers.outage import demo
from servers.outage.announcing import AnnouncingMethods
from servers.outage.config import OutageConfig
from servers.outage.process import OutageProcess, build_process
from servers.outage.reads import ReadMethods
from servers.outage.transitions import TransitionMethods
from servers.outage.watching import WatchMethods
from servers.runtime import SYSTEM_CLOCK, Clock, Registration, Runtime, ServiceSpec

log = logging.getLogger("palmgrid.outage")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_processes: dict[int, OutageProcess] = {}
_lock = threading.Lock()


class OutageServicer(
    ReadMethods,
    AnnouncingMethods,
    TransitionMethods,
    WatchMethods,
    outage_service_pb2_grpc.OutageServiceServicer,
):
    """palmgrid.outage.v1.OutageService."""

    def __init__(self, process: OutageProcess) -> None:
        self.process = process
        self.clock = process.clock


def process_of(runtime: Runtime) -> OutageProcess:
    """The OutageProcess built for `runtime` (tests run its jobs and dispatcher)."""
    with _lock:
        return _processes[id(runtime)]


def _forget(runtime: Runtime) -> None:
    with _lock:
        _processes.pop(id(runtime), None)


def make_spec(*, clock: Clock | None = None, config: OutageConfig | None = None) -> ServiceSpec:
    """The outage ServiceSpec with this clock and configuration (default: the wall clock
    and PALMGRID_OUTAGE_* from the environment at start)."""
    now = clock or SYSTEM_CLOCK

    def settings() -> OutageConfig:
        return config or OutageConfig.load()

    def registrations(runtime: Runtime) -> Sequence[Registration]:
        process = build_process(runtime, runtime.settings_of(OutageConfig), now)
        with _lock:
            _processes[id(runtime)] = process
        runtime.on_close(lambda: _forget(runtime))
        return [
            Registration(
                "palmgrid.outage.v1.OutageService",
                OutageServicer(process),
                outage_service_pb2_grpc.add_OutageServiceServicer_to_server,
            )
        ]

    def seed_demo(runtime: Runtime) -> None:
        with runtime.session(write=True) as session:
            added = demo.seed(session, now.now())
        log.info("demo data ready", extra={"outages_added": added})

    return ServiceSpec(
        name="outage",
        registrations=registrations,
        migrations=MIGRATIONS,
        settings=settings,
        seed_demo=seed_demo,
        on_start=lambda runtime: process_of(runtime).start_ticker(),
    )


SPEC = make_spec()
