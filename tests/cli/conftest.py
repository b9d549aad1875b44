"""Fixtures for the tests of the staff CLI: `palm`, each command a process of its own
(forked from one that has imported it, see tests.cli.zygote), against a whole running
system (one for the package, but for modules that set `OWN_SYSTEM = True`) and a worker
serving its jobs API beside it, each staff member signed in with a config directory of
their own.

`palm_executable` is the console script installed beside the interpreter (`./dev`
installs the project), run directly by the tests at a terminal; when the interpreter's
environment was installed from another checkout, the same entry point of
`[project.scripts]` is written as a script of its own, as pip writes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from clients.edge_client import EdgeClient
from palmgrid.worker.v1 import worker_service_pb2_grpc
from servers.runtime import SYSTEM_CLOCK, Runtime, Server, build_server, load_signer
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.runner import Worker
from servers.worker.service import make_spec as worker_spec
from tests.e2e.system import CAPTCHA, STAFF_PASSWORD, System, system_fixtures
from tests.worker.support import staff_on_worker

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


class Zygote:
    """The process that forks a `palm` per command (tests.cli.zygote)."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("zygote.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def run(self, args: list[str], env: dict[str, str], stdin: str | None, timeout: int) -> Run:
        self.count += 1
        streams = {name: self.directory / f"{self.count}.{name}" for name in ("in", "out", "err")}
        streams["in"].write_text(stdin or "")
        streams["out"].touch()
        streams["err"].touch()
        request = {
            "argv": args,
            "env": env,
            "stdin": str(streams["in"]),
            "stdout": str(streams["out"]),
            "stderr": str(streams["err"]),
            "timeout": timeout,
        }
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, f"the palm zygote ended (exit {self.process.poll()})"
        code = json.loads(answer)["code"]
        return Run(code, streams["out"].read_text(), streams["err"].read_text())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@dataclass
class Palm:
    """Runs `palm` as a given staff member against the running system. `executable` is
    the installed console script, for tests that run it at a terminal."""

    executable: Path
    env: dict[str, str]
    homes: Path
    zygote: Zygote
    signed_in: set[str] = field(default_factory=set)

    def home(self, user: str) -> Path:
        return self.homes / user

    def run(
        self, user: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        env = {**self.env, "PALMGRID_CLI_HOME": str(self.home(user)), **(env or {})}
        return self.zygote.run(list(args), env, stdin, timeout=60)

    def login(self, user: str) -> Run:
        return self.run(user, "login", user, "--password-stdin", stdin=STAFF_PASSWORD + "\n")

    def as_(self, user: str, *args: str) -> Run:
        """Run as `user`, signing in first the first time."""
        if user not in self.signed_in:
            signed = self.login(user)
            assert signed.code == 0, signed
            self.signed_in.add(user)
        return self.run(user, *args)

    def json(self, user: str, *args: str) -> Any:
        """The --json answer of a command that must succeed."""
        done = self.as_(user, *args, "--json")
        assert done.code == 0, done
        return json.loads(done.out)


def palm_executable(directory: Path) -> Path:
    installed = Path(sys.executable).parent / "palm"
    if installed.exists():
        return installed
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["palm"].partition(":")
    script = directory / "palm"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"
    )
    script.chmod(0o755)
    return script


shared_system, system = system_fixtures()


@dataclass
class JobsWorker:
    """The worker beside the system: its jobs API served as `python -m servers.worker`
    serves it, its loop not running (tests run jobs with `worker.run_now`)."""

    worker: Worker
    server: Server
    port: int
    runtime: Runtime
    channel: grpc.Channel

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stub(self) -> tuple[Any, list[tuple[str, bytes]]]:
        """A WorkerService stub over the CLI's certificate, and an administrator's
        assertion for it, to ask the worker directly what `palm` shows."""
        settings = self.runtime.settings
        signer = load_signer(settings.identity_dir, settings.identity_key_id)
        metadata = staff_on_worker(signer, "worker.jobs.list", "worker.jobRuns.list")
        return worker_service_pb2_grpc.WorkerServiceStub(self.channel), metadata


@pytest.fixture(scope="module")
def jobs_worker(system: System) -> Iterator[JobsWorker]:
    settings = system.settings.model_copy(
        update={
            **{f"{name}_target": service.target for name, service in system.services.items()},
            "worker_database_url": f"sqlite:///{system.data_dir / 'worker.db'}",
        }
    )
    config = WorkerConfig()
    server, port, runtime = build_server(
        worker_spec(config=config), settings, address="127.0.0.1:0"
    )
    server.start()
    worker = Worker(runtime, config, load_jobs(), SYSTEM_CLOCK)
    worker.store.sync(worker.schedules)
    credentials = settings.client_credentials("cli")
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials)
    yield JobsWorker(worker, server, port, runtime, channel)
    channel.close()
    server.stop(0)
    runtime.close()


@pytest.fixture(scope="module")
def palm(
    system: System, jobs_worker: JobsWorker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Palm]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PALMGRID_") and key != "XDG_CONFIG_HOME"
    }
    env.update(
        {
            "PALMGRID_DATA_DIR": str(system.data_dir),
            "PALMGRID_DEV_CAPTCHA": CAPTCHA,
            "COLUMNS": "200",  # tables as a wide terminal shows them
            **{
                f"PALMGRID_{name.upper()}_TARGET": service.target
                for name, service in system.services.items()
            },
            "PALMGRID_WORKER_TARGET": jobs_worker.target,
            "PALMGRID_MEMCACHED_SERVERS": system.memcached.address,
        }
    )
    directory = tmp_path_factory.mktemp("palm")
    streams = directory / "streams"
    streams.mkdir()
    zygote = Zygote(env, streams)
    yield Palm(palm_executable(directory), env, directory / "homes", zygote)
    zygote.close()


@pytest.fixture(scope="module")
def edge_as(system: System) -> Iterator[Any]:
    """EdgeClients through the running edge: `edge_as("caremanager")` signed in as that
    staff member (none of whom the CLI tests sign in with), `edge_as(None)` anonymous."""
    made: dict[str | None, EdgeClient] = {}

    def make(user: str | None) -> EdgeClient:
        if user not in made:
            client = EdgeClient(
                system.url, ca_file=system.ca_file, headers={"X-Forwarded-For": "10.9.0.1"}
            )
            if user:
                client.login(user, STAFF_PASSWORD, captcha_answer=CAPTCHA)
            made[user] = client
        return made[user]

    yield make
    for client in made.values():
        client.close()
