"""Probe jobs for the worker's process tests (loaded with PALMGRID_WORKER_JOB_MODULES).

Each run appends `start <run> <pid> <time>` and `end <run> <pid> <time>` lines to the
file named by WORKER_PROBE_FILE (appends of a line are atomic), so a test can see
from the file alone whether two runs ever overlapped and which process ran each."""

from __future__ import annotations

import os
import secrets
import time

from servers.worker.job import Job, JobContext, register


def _write(kind: str, run: str) -> None:
    line = f"{kind} {run} {os.getpid()} {time.time():.6f}\n"
    with open(os.environ["WORKER_PROBE_FILE"], "a") as probe:
        probe.write(line)


def _probe(seconds: float) -> str:
    run = secrets.token_hex(4)
    _write("start", run)
    time.sleep(seconds)
    _write("end", run)
    return f"probe {run}"


def quick(context: JobContext) -> str:
    """A short run."""
    return _probe(0.2)


def slow(context: JobContext) -> str:
    """A run long enough to be killed in the middle of."""
    return _probe(float(os.environ.get("WORKER_PROBE_SECONDS", "30")))


register(Job("probe.quick", "every 1s", quick))
register(Job("probe.slow", "every 1h", slow))
