"""`./dev up` as a child process on free ports, for tests and benchmarks that need the
whole system running as deployed (each service, the worker and the edge a process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.runtime.settings import GRPC_SERVER_NAMES, Settings
from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
# Past ./dev up's own wait for the services (servers.devup.SERVICE_READY_TIMEOUT).
START_TIMEOUT = 300.0


class DevupFailed(RuntimeError):
    """`./dev up` did not come up; the message holds what it printed."""


@dataclass
class RunningDevup:
    process: subprocess.Popen[str]
    settings: Settings
    env: dict[str, str]
    lines: list[str]

    @property
    def edge_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.edge_port}"

    @property
    def sms_gateway_url(self) -> str:
        return self.env["PALMGRID_NOTIFICATION_SMS_GATEWAY_URL"]

    @property
    def payment_provider_url(self) -> str:
        return self.env["PALMGRID_PAYMENT_PROVIDER_URL"]

    def stop(self, timeout: float = 30.0) -> tuple[int | None, str]:
        """Ctrl-C, as an operator would; its exit code and the rest of its output."""
        self.process.send_signal(signal.SIGINT)
        try:
            remaining, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            remaining, _ = self.process.communicate()
            return None, remaining
        return self.process.returncode, remaining


def start_devup(data_dir: Path, **extra_env: str) -> RunningDevup:
    """`python -m servers.devup` with every port free and its data in `data_dir`;
    returns once it printed that PalmGrid is up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")}
    env["PALMGRID_DATA_DIR"] = str(data_dir)
    for name in GRPC_SERVER_NAMES:
        env[f"PALMGRID_{name.upper()}_PORT"] = str(free_port())
    env["PALMGRID_EDGE_PORT"] = str(free_port())
    env["PALMGRID_MEMCACHED_SERVERS"] = f"127.0.0.1:{free_port()}"
    env["PALMGRID_PAYMENT_PROVIDER_URL"] = f"http://127.0.0.1:{free_port()}"
    # One sandbox stands in for both gateways.
    gateway = f"http://127.0.0.1:{free_port()}"
    env["PALMGRID_NOTIFICATION_SMS_GATEWAY_URL"] = gateway
    env["PALMGRID_NOTIFICATION_PUSH_GATEWAY_URL"] = gateway
    env.update(extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "servers.devup"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Ctrl-C stops everything"):
            break
    if not any(line.startswith("PalmGrid is up") for line in lines):
        process.kill()
        process.wait()
        raise DevupFailed("./dev up did not come up:\n" + "\n".join(lines))
    ports: dict[str, Any] = {
        f"{n}_port": int(env[f"PALMGRID_{n.upper()}_PORT"]) for n in GRPC_SERVER_NAMES
    }
    settings = Settings(data_dir=data_dir, edge_port=int(env["PALMGRID_EDGE_PORT"]), **ports)
    return RunningDevup(process, settings, env, lines)
