"""`python -m servers.worker [run | status | run-job JOB]`: run the scheduled jobs and
serve the jobs API, palmgrid.worker.v1.WorkerService (the default), show each job's
last and next run, or run one job now."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from rich.console import Console

from palmlib.telemetry import configure_tracing
from servers.runtime import SYSTEM_CLOCK, Settings, SettingsError, build_server, load_settings
from servers.runtime.logs import configure_logging
from servers.runtime.migrations import SchemaNotCurrent
from servers.runtime.service import serve_metrics
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.models import OK
from servers.worker.process import AnotherWorkerRunning, open_runtime, single_worker
from servers.worker.runner import Worker
from servers.worker.service import make_spec
from servers.worker.status import job_statuses, status_table

log = logging.getLogger("palmgrid.worker")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.worker", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "run", help="run the scheduled jobs and serve the jobs API until SIGTERM/SIGINT (default)"
    )
    commands.add_parser("status", help="each job's last run, duration, outcome and next run")
    one = commands.add_parser("run-job", help="run one job now, whatever its schedule")
    one.add_argument("job")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        config = WorkerConfig.load()
    except SettingsError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    # The status table goes to stdout; keep the migration's INFO lines out of the way.
    configure_logging("WARNING" if args.command == "status" else settings.log_level)
    configure_tracing("worker")
    if args.command == "status":
        runtime = open_runtime(settings, config)
        try:
            Console().print(status_table(job_statuses(runtime.engine, SYSTEM_CLOCK.now())))
        finally:
            runtime.close()
        return 0
    try:
        with single_worker(settings.database_url_for("worker")):
            if args.command != "run-job":
                return _serve(settings, config)
            runtime = open_runtime(settings, config)
            try:
                worker = Worker(runtime, config, load_jobs(config.job_modules), SYSTEM_CLOCK)
                return _run_job(worker, args.job)
            finally:
                runtime.close()
    except AnotherWorkerRunning as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 3
    # An unknown job, a refused configuration or schema.
    except (ValueError, SettingsError, SchemaNotCurrent) as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve(settings: Settings, config: WorkerConfig) -> int:
    """Run the jobs until SIGTERM/SIGINT, serving the jobs API meanwhile: the server
    stops (draining) once the loop has let its running jobs end."""
    server, port, runtime = build_server(make_spec(config=config), settings)
    try:
        worker = Worker(runtime, config, load_jobs(config.job_modules), SYSTEM_CLOCK)
        stop = _stop_on_signals()
        server.start()
        serve_metrics(settings, "worker")
        log.info("serving", extra={"service": "worker", "port": port, "worker": worker.id})
        try:
            worker.run(stop, grace=settings.shutdown_grace_seconds)
        finally:
            server.stop(settings.shutdown_grace_seconds, drain=settings.shutdown_drain_seconds)
    finally:
        runtime.close()
    return 0


def _run_job(worker: Worker, name: str) -> int:
    if name not in worker.jobs:
        print(f"worker: no job {name!r}; jobs: {', '.join(worker.jobs)}", file=sys.stderr)
        return 2
    worker.store.sync(worker.schedules)
    result = worker.run_now(name)
    if result is None:
        print(f"worker: {name} is running on another worker", file=sys.stderr)
        return 1
    outcome, message = result
    print(f"{name}: {outcome} {message}")
    return 0 if outcome == OK else 1


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


if __name__ == "__main__":
    raise SystemExit(main())
