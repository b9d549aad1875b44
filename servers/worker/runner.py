"""The worker's loop: claim the due jobs, run each on a thread of its own while a
heartbeat renews its lease, record how it ended, repeat until told to stop.

A job's failure — an exception, a service that is down or answers UNIMPLEMENTED — is
the run's FAILED outcome, logged and recorded; it never stops the worker.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import grpc
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from servers.runtime import Clock, Runtime
from servers.worker.config import WorkerConfig
from servers.worker.job import Job, JobContext
from servers.worker.models import FAILED, OK
from servers.worker.schedule import Schedule, parse_schedule
from servers.worker.store import Claim, JobStore

log = logging.getLogger("palmgrid.worker")

_tracer = trace.get_tracer("palmgrid.worker")
# Scraped on PALMGRID_WORKER_METRICS_PORT (docs/observability.md).
JOB_RUNS = Counter(
    "palmgrid_job_runs", "Job runs of this worker, by job and outcome.", ["job", "outcome"]
)
JOB_DURATION = Histogram(
    "palmgrid_job_duration_seconds",
    "How long a job's run took.",
    ["job"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
)


def new_worker_id() -> str:
    """host:pid:random, unique per process even when pids are reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def failure_message(error: BaseException) -> str:
    """One line saying why a run failed; a gRPC error by its status code."""
    if isinstance(error, grpc.RpcError):
        code = error.code()  # type: ignore[attr-defined]
        return f"{code.name if code else 'UNKNOWN'}: {error.details()}"  # type: ignore[attr-defined]
    return f"{type(error).__name__}: {error}"


@dataclass
class _Running:
    claim: Claim
    context: JobContext
    thread: threading.Thread


class Worker:
    """Runs `jobs` on their schedules (overridden by `config.schedules`)."""

    def __init__(
        self,
        runtime: Runtime,
        config: WorkerConfig,
        jobs: Mapping[str, Job],
        clock: Clock,
        worker_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.clock = clock
        chosen = set(config.jobs) or set(jobs)
        unknown = chosen - set(jobs)
        if unknown:
            raise ValueError(f"PALMGRID_WORKER_JOBS: unknown jobs {', '.join(sorted(unknown))}")
        self.jobs = {name: job for name, job in jobs.items() if name in chosen}
        self.schedules: dict[str, Schedule] = {
            name: parse_schedule(config.schedules.get(name, job.schedule))
            for name, job in self.jobs.items()
        }
        self.id = worker_id or new_worker_id()
        self.store = JobStore(
            runtime.engine, clock, self.id, timedelta(seconds=config.lease_seconds)
        )
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    # -- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event, *, grace: float = 10.0) -> None:
        """Run until `stop` is set, then let running jobs end within `grace` seconds."""
        self.store.sync(self.schedules)
        self.store.prune_runs(timedelta(days=self.config.history_days))
        log.info("worker started", extra={"worker": self.id, "jobs": sorted(self.jobs)})
        heartbeat = threading.Thread(target=self._heartbeat, args=(stop,), name="heartbeat")
        heartbeat.start()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.config.tick_seconds)
        finally:
            self._shut_down(grace)
            heartbeat.join()
            log.info("worker stopped", extra={"worker": self.id})

    def tick(self) -> list[str]:
        """Start every due job not running here; the names started."""
        with self._lock:
            idle = [name for name in self.jobs if name not in self._running]
        started = []
        for claim in self.store.claim_due(idle):
            self._start(claim)
            started.append(claim.job)
        return started

    def run_now(self, name: str) -> tuple[str, str] | None:
        """Run job `name` at once on this thread, whatever its schedule, its lease
        renewed while it runs as in `run`; (outcome, message), or None when another
        worker holds it."""
        claims = self.store.claim_due([name], force=True)
        if not claims:
            return None
        context = self._context(name)
        with self._lock:
            self._running[name] = _Running(claims[0], context, threading.current_thread())
        finished = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(finished,), name="heartbeat")
        heartbeat.start()
        try:
            return self._run(claims[0], context)
        finally:
            finished.set()
            heartbeat.join()

    # -- one run -------------------------------------------------------------------------

    def _context(self, name: str) -> JobContext:
        return JobContext(name, self.runtime, self.clock, self.config.call_timeout_seconds)

    def _start(self, claim: Claim) -> None:
        context = self._context(claim.job)
        thread = threading.Thread(
            target=self._run, args=(claim, context), name=f"job {claim.job}", daemon=True
        )
        with self._lock:
            self._running[claim.job] = _Running(claim, context, thread)
        thread.start()

    def _run(self, claim: Claim, context: JobContext) -> tuple[str, str]:
        job = self.jobs[claim.job]
        started = time.monotonic()
        try:
            # One trace per run: the calls the job makes are its children.
            with _tracer.start_as_current_span(f"job {claim.job}"):
                outcome, message = OK, job.run(context)
        except Exception as error:  # every failure is the run's outcome, never the worker's
            outcome, message = FAILED, failure_message(error)
            log.warning(
                "job failed",
                extra={"job": claim.job, "error": message},
                exc_info=not isinstance(error, grpc.RpcError),
            )
        seconds = round(time.monotonic() - started, 3)
        JOB_RUNS.labels(claim.job, outcome).inc()
        JOB_DURATION.labels(claim.job).observe(seconds)
        try:
            kept = self.store.finish(claim, self.schedules[claim.job], outcome, message)
        except Exception:
            log.exception("could not record a run", extra={"job": claim.job})
            kept = False
        finally:
            with self._lock:
                self._running.pop(claim.job, None)
        if not kept:
            log.error("job lease was lost during the run", extra={"job": claim.job})
        log.info(
            "job ran",
            extra={"job": claim.job, "outcome": outcome, "seconds": seconds, "summary": message},
        )
        return outcome, message

    # -- leases --------------------------------------------------------------------------

    def _heartbeat(self, stop: threading.Event) -> None:
        # Renew at a third of the lease, so two renewals may fail before it lapses.
        interval = self.config.lease_seconds / 3
        while not stop.wait(interval):
            self.renew_leases()

    def renew_leases(self) -> None:
        """Renew the lease of every job running here; a job whose lease another worker
        took is told to stop."""
        with self._lock:
            running = list(self._running.values())
        for item in running:
            try:
                if not self.store.renew(item.claim.job):
                    item.context.cancelled.set()
            except Exception:
                log.exception("lease renewal failed", extra={"job": item.claim.job})

    def _shut_down(self, grace: float) -> None:
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.context.cancelled.set()
        deadline = time.monotonic() + grace
        for item in running:
            item.thread.join(max(0.0, deadline - time.monotonic()))
            if item.thread.is_alive():
                log.warning("job still running at shutdown", extra={"job": item.claim.job})
                self.store.release(item.claim)
