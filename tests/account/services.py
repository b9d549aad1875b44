"""Other PalmGrid services started in-process for the account tests (billing for
binding verification and scope, every service for the role x method matrix)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers.runtime import Runtime, Server, ServiceSpec, Settings, build_server


@dataclass
class Running:
    name: str
    server: Server
    port: int
    runtime: Runtime

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def spec_of(name: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"servers.{name}.service").SPEC
    return spec


@contextmanager
def no_demo_data() -> Iterator[None]:
    """Billing seeds demo customers in the dev profile unless told not to."""
    previous = os.environ.get("PALMGRID_BILLING_DEMO_DATA")
    os.environ["PALMGRID_BILLING_DEMO_DATA"] = "0"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PALMGRID_BILLING_DEMO_DATA", None)
        else:
            os.environ["PALMGRID_BILLING_DEMO_DATA"] = previous


def start(
    name: str, settings: Settings, spec: ServiceSpec | None = None, address: str = "127.0.0.1:0"
) -> Running:
    with no_demo_data():
        server, port, runtime = build_server(spec or spec_of(name), settings, address=address)
    server.start()
    return Running(name, server, port, runtime)


def stop(running: Running) -> None:
    running.server.stop(0)
    running.runtime.close()


def database_url(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / f'{name}.db'}"
