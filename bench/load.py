"""Load generation with wrk and CPU accounting from /proc, for the benchmarks."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.ports import free_port

__all__ = ["LoadResult", "Process", "cpu_seconds", "free_port", "run_wrk", "wait_listening"]

_TICKS = os.sysconf("SC_CLK_TCK")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float = float("nan")


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {proc.args!r}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Process:
    """A child process pinned to some CPUs (when the machine has them)."""

    def __init__(self, argv: Sequence[str], cpus: set[int] | None, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    body: bytes | None = None,
    cpus: set[int] | None = None,
) -> LoadResult:
    """Run wrk (one thread) against a URL; with `body`, POST it as JSON."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found; install it with `apt-get install wrk`")
    with tempfile.TemporaryDirectory() as tmp:
        # wrk takes whole seconds only.
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
        if body is not None:
            script = Path(tmp) / "post.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = [[{body.decode()}]]\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            argv += ["-s", str(script)]
        argv.append(url)
        out = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        ).stdout
    return _parse(out)


def _parse(out: str) -> LoadResult:
    def duration(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] * 1000 if m else float("nan")

    nan = float("nan")
    latency = re.search(r"^\s*Latency[ \t]+\S+[ \t]+\S+[ \t]+([\d.]+)(us|ms|s|m)", out, re.M)
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    if done is None or rps is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(g) for g in socket_errors.groups())
    return LoadResult(
        requests=int(done.group(1)),
        errors=failed,
        seconds=float(done.group(2)) * _UNITS[done.group(3)],
        rps=float(rps.group(1)),
        p50_ms=duration("50%"),
        p99_ms=duration("99%"),
        max_ms=float(latency.group(1)) * _UNITS[latency.group(2)] * 1000 if latency else nan,
    )
