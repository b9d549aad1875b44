"""The sandbox SMS and push gateway as its own process (`python -m
servers.notification.sandbox`), as `./dev up` runs it: started, stopped (a gateway
down), started again on the same port and journal, and asked what it received."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tools import memcached
from tools.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class SandboxProcess:
    """One sandbox gateway process on a fixed port, with its journal in `directory`."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.journal = directory / "journal.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxProcess:
        env = dict(os.environ)
        env["PALMGRID_DATA_DIR"] = str(self.directory)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "generated")])
        log = (self.directory / "sandbox.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servers.notification.sandbox",
                "--port",
                str(self.port),
                "--journal",
                str(self.journal),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        memcached.wait_for_port("127.0.0.1", self.port, 20.0)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.url + path, json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def behave(self, mode: str, delay_seconds: float = 0.0) -> None:
        self._call("PUT", "/sandbox/behaviour", {"mode": mode, "delay_seconds": delay_seconds})

    def received(self, to: str | None = None) -> list[dict[str, Any]]:
        """Every send received (to `to`, a phone or push token, when given)."""
        entries: list[dict[str, Any]] = self._call("GET", "/sandbox/messages")["received"]
        return [e for e in entries if to is None or to in e["to"]]

    def delivered(self, to: str | None = None) -> list[dict[str, Any]]:
        """Each message delivered, once (to `to` when given)."""
        entries: list[dict[str, Any]] = self._call("GET", "/sandbox/messages")["delivered"]
        return [e for e in entries if to is None or to in e["to"]]
