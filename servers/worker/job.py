"""Jobs and the registry they add themselves to.

A job is a name, a schedule and a function. A job module under `servers/worker/jobs/`
(imported by `load_jobs`) registers its jobs when imported:

    from servers.worker.job import Job, JobContext, register

    def deliver(context: JobContext) -> str:
        stub = NotificationServiceStub(context.channel("notification"))
        reply = stub.DeliverDueMessages(request, **context.call_options().kwargs())
        return f"{reply.delivered_count} delivered"       # the run's outcome message

    register(Job("notification.delivery", "every 10s", deliver))

The function returns a one-line summary (shown by `status`) or raises: any exception,
a failed gRPC call included, makes the run FAILED with its message; the worker goes on.
Long jobs look at `context.cancelled` between steps (set at shutdown or when the
job's lease was lost) and stop early.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import grpc

from servers.runtime import CallOptions, Clock, Runtime, downstream_call_options
from servers.worker.schedule import Schedule, parse_schedule

JOB_PACKAGE = "servers.worker.jobs"


@dataclass
class JobContext:
    """What a running job gets: channels to the services (as the `worker` service
    account), the clock, the per-call timeout and the cancel signal."""

    job: str
    runtime: Runtime
    clock: Clock
    call_timeout: float
    cancelled: threading.Event = field(default_factory=threading.Event)

    def channel(self, service: str) -> grpc.Channel:
        """The shared channel to a PalmGrid service, authenticated as the worker."""
        return self.runtime.channel(service)

    def call_options(self) -> CallOptions:
        """Timeout and metadata (a new request id) for one call to a service."""
        return downstream_call_options(default_timeout=self.call_timeout)

    def now(self) -> datetime:
        return self.clock.now()


JobFunction = Callable[[JobContext], str]


@dataclass(frozen=True)
class Job:
    """A scheduled job. `name` is dotted, `<area>.<what>` ("billing.late-fees");
    `schedule` is its text form (servers.worker.schedule), which
    `PALMGRID_WORKER_SCHEDULES` may override by name."""

    name: str
    schedule: str
    run: JobFunction
    description: str = ""

    def parsed_schedule(self) -> Schedule:
        return parse_schedule(self.schedule)


_REGISTRY: dict[str, Job] = {}
_LOCK = threading.Lock()


def register(job: Job) -> Job:
    """Add `job` to the registry (a module registering again replaces its own entry)."""
    job.parsed_schedule()  # a bad schedule fails at import, not at the first run
    with _LOCK:
        _REGISTRY[job.name] = job
    return job


def registered_jobs() -> dict[str, Job]:
    """Every registered job by name."""
    with _LOCK:
        return dict(sorted(_REGISTRY.items()))


def load_jobs(extra_modules: Iterable[str] = ()) -> dict[str, Job]:
    """Import every module of `servers.worker.jobs` and `extra_modules` (each registers
    its jobs), then return the registry."""
    package = importlib.import_module(JOB_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__, f"{JOB_PACKAGE}."):
        importlib.import_module(info.name)
    for name in extra_modules:
        importlib.import_module(name)
    return registered_jobs()
