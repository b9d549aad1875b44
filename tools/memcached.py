"""Start a real local Memcached for `./dev up`, the tests and the benchmarks.

Memcached holds only copies that may vanish, so a child process per run is enough: no
system service, no persistence. When the binary is missing and we run as root on Debian,
it is installed with apt; otherwise the caller gets a clear message.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

from tools.ports import free_port


class MemcachedUnavailable(RuntimeError):
    """The memcached binary is missing and cannot be installed here."""


def ensure_installed() -> str:
    """Path of the memcached binary, installing Debian's package when possible."""
    found = shutil.which("memcached")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MemcachedUnavailable(
            "memcached is not installed; install it with `apt-get install -y memcached`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "memcached"], check=True, env=env)
    found = shutil.which("memcached")
    if not found:
        raise MemcachedUnavailable("apt-get installed memcached but it is not on PATH")
    return found


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)


@dataclass
class MemcachedProcess:
    """A memcached child process listening on host:port."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def pause(self) -> None:
        """Freeze the process (a hung node: connections open, no answers) and wait until
        the kernel reports it stopped, so no request slips through after this returns."""
        os.kill(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5.0
        while _state(self.process.pid) not in ("T", "t"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"memcached {self.process.pid} did not stop")
            time.sleep(0.001)

    def resume(self) -> None:
        """Let a paused node answer again."""
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _state(pid: int) -> str:
    """The process state letter from /proc (R, S, T, …)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]


def start(
    port: int | None = None,
    host: str = "127.0.0.1",
    memory_mb: int = 64,
    cpus: set[int] | None = None,
) -> MemcachedProcess:
    """Start memcached on host:port (a free port when None) and wait until it listens;
    on `cpus` only when given (benchmarks keep it off the core they measure)."""
    binary = ensure_installed()
    port = port or free_port(host)
    # -U 0: no UDP; -t 1: one thread is plenty on a 2-core machine shared with everything else.
    args = [binary, "-l", host, "-p", str(port), "-U", "0", "-t", "1", "-m", str(memory_mb)]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    try:
        wait_for_port(host, port)
    except TimeoutError:
        process.kill()
        raise
    return MemcachedProcess(host, port, process)
