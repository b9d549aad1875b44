"""The worker tests' support: worker processes started as `./dev up` starts them
(`python -m servers.worker`), and what the probe jobs wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from palmgrid.type.v1 import identity_pb2
from servers.runtime import AssertionSigner

ROOT = Path(__file__).resolve().parents[2]


def process_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """The environment of a worker process: this checkout's code, no PALMGRID_
    variable of the caller's, `data_dir`, a quick tick, then `variables`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PALMGRID_")}
    env.update(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        PALMGRID_DATA_DIR=str(data_dir),
        PALMGRID_LOG_LEVEL="INFO",
        PALMGRID_WORKER_TICK_SECONDS="0.05",
        # Any free port for the jobs API: tests run several workers on one host.
        PALMGRID_WORKER_PORT="0",
    )
    env.update(variables)
    return env


def worker_env(data_dir: Path, probe_file: Path, **variables: str) -> dict[str, str]:
    """The environment of a worker process that can run the probe jobs."""
    return process_env(
        data_dir,
        PALMGRID_WORKER_JOB_MODULES="tests.worker.probe_jobs",
        WORKER_PROBE_FILE=str(probe_file),
        **variables,
    )


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`python -m servers.worker ARGS` with its output in `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "servers.worker", *args],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not end in 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class ProbeRun:
    run: str
    pid: int
    start: float
    end: float | None


def probe_runs(probe_file: Path) -> list[ProbeRun]:
    """The probe runs the file records, in the order they started."""
    if not probe_file.exists():
        return []
    starts: dict[str, tuple[int, float]] = {}
    ends: dict[str, float] = {}
    for line in probe_file.read_text().splitlines():
        kind, run, pid, moment = line.split()
        if kind == "start":
            starts[run] = (int(pid), float(moment))
        else:
            ends[run] = float(moment)
    runs = [ProbeRun(run, pid, start, ends.get(run)) for run, (pid, start) in starts.items()]
    return sorted(runs, key=lambda r: r.start)


def staff_on_worker(signer: AssertionSigner, *permissions: str) -> list[tuple[str, bytes]]:
    """An administrator's assertion for the worker's jobs API, holding `permissions`,
    as the staff CLI forwards it (caller `cli`)."""
    principal = identity_pb2.Principal(
        user="users/ops-one",
        username="opsone",
        kind=identity_pb2.PRINCIPAL_KIND_STAFF,
        roles=["admin"],
        permissions=permissions,
        all_supply_offices=True,
    )
    return [signer.metadata(principal, audience="worker", caller="cli")]
