"""`grpc.health.v1` for a PalmGrid server, with its dependencies as further names.

`Check(service="")` and `Check(service=<full service name>)` answer as grpcio's health
servicer does (SERVING once started, NOT_SERVING while starting or draining).
`Check(service="database")` asks the server's database there and then (`SELECT 1`):
SERVING when it answers, NOT_SERVING when it does not. A load balancer or Kubernetes
probe keeps asking for "" only, so a database that is briefly away never pulls every
replica at once; the staff CLI's `palm health` asks for both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from grpc_health.v1 import health, health_pb2
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger("palmgrid.health")

DATABASE = "database"

Probe = Callable[[], bool]


def database_probe(engine: Engine) -> Probe:
    """Whether `engine`'s database answers a `SELECT 1` now."""

    def probe() -> bool:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure is the answer: not serving
            log.warning("database check failed", extra={"error": str(error)})
            return False
        return True

    return probe


def _answer(serving: bool) -> health_pb2.HealthCheckResponse:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    return health_pb2.HealthCheckResponse(status=status)


class DependencyHealth(health.HealthServicer):
    """grpcio's threaded health servicer, answering the names of `probes` by running
    them, and sending status changes outside its lock. grpc's own `set` sends to every
    Watch stream while holding the lock, and a send waits for the server's polling
    thread, which may at that moment be ending another Watch stream through a callback
    that takes the same lock: a deadlock once balancing clients (palmlib.balancing)
    keep Watch streams open and a server stops."""

    def __init__(self, probes: Mapping[str, Probe]) -> None:
        super().__init__(experimental_non_blocking=True)
        self._probes = dict(probes)

    def set(self, service: str, status: int) -> None:
        with self._lock:
            if self._gracefully_shutting_down:
                return
            self._server_status[service] = status
            watchers = list(self._send_response_callbacks.get(service, ()))
        for send in watchers:
            try:
                send(health_pb2.HealthCheckResponse(status=status))
            except Exception:  # a stream that ended meanwhile
                log.debug("health watch gone", exc_info=True)

    def enter_graceful_shutdown(self) -> None:
        with self._lock:
            if self._gracefully_shutting_down:  # type: ignore[has-type]
                return
            services = list(self._server_status)
        for service in services:
            self.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        with self._lock:
            self._gracefully_shutting_down = True

    def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> Any:
        probe = self._probes.get(request.service)
        if probe is None:
            return super().Check(request, context)
        return _answer(probe())


class AioDependencyHealth(health.aio.HealthServicer):
    """grpc's asyncio health servicer, answering the names of `probes` by running them
    on a thread (a probe blocks on the database)."""

    def __init__(self, probes: Mapping[str, Probe]) -> None:
        super().__init__()
        self._probes = dict(probes)

    async def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> Any:
        probe = self._probes.get(request.service)
        if probe is None:
            return await super().Check(request, context)
        return _answer(await asyncio.to_thread(probe))
