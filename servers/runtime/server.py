"""The gRPC server factory: grpcio's synchronous server with a thread pool, or (with
`async_streams`) a grpc.aio server whose plain methods run on a thread pool while its
async-generator streams run on the event loop; each with our interceptor,
`grpc.health.v1` health checking, server reflection and graceful shutdown.

The synchronous server measured ~1.7x the calls/s of grpc.aio on this kind of machine,
and SQLModel sessions are synchronous, so servicers are plain blocking code. A service
that holds many long streams open (outage's watch) takes the aio server: a stream then
costs a task, not one of the pool's threads (docs/runtime.md, Server).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from servers.runtime.access import Authenticator
from servers.runtime.aio_interceptor import AioRuntimeInterceptor, is_async
from servers.runtime.audit import AuditSink
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.auditing import CallAuditor
from servers.runtime.errors import domain_for
from servers.runtime.health import AioDependencyHealth, DependencyHealth, Probe
from servers.runtime.identity import AssertionVerifier
from servers.runtime.interceptor import DenialHook, RuntimeInterceptor
from servers.runtime.methods import ContractError, MethodInfo, find_service, method_table
from servers.runtime.service_accounts import ServiceAccount
from servers.runtime.tracing import tracing_aio_interceptor, tracing_interceptor
from servers.runtime.unbuilt import unbuilt_methods
from servers.runtime.validation import RequestValidator

log = logging.getLogger("palmgrid.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Registration:
    """One gRPC service implementation: its full name, the servicer, and the generated
    `add_<Service>Servicer_to_server` function that registers it."""

    full_name: str
    servicer: object
    add_to_server: Callable[[Any, grpc.Server], None]


class Health(Protocol):
    """What a Server needs of its health servicer."""

    def set(self, service: str, status: int) -> None: ...

    def enter_graceful_shutdown(self) -> None: ...


class _LoopHealth:
    """grpc's asyncio health servicer, driven from ordinary threads through the aio
    server's event loop. An aio server needs it: grpc's threaded servicer would serve
    each Watch (which balancing clients keep open, palmlib.balancing) on a pool thread
    that the aio server never releases, so the process could not exit."""

    def __init__(self, servicer: health.aio.HealthServicer, loop: _EventLoopThread) -> None:
        self.servicer = servicer
        self._loop = loop

    def set(self, service: str, status: int) -> None:
        self._loop.run(self.servicer.set(service, status))

    def enter_graceful_shutdown(self) -> None:
        self._loop.run(self.servicer.enter_graceful_shutdown())


class Server:
    """A PalmGrid gRPC server. `start()` marks every service SERVING; `stop()` marks
    them NOT_SERVING, waits `drain` seconds (so load balancers notice), then stops
    accepting calls and lets in-flight ones finish within `grace` seconds."""

    def __init__(
        self, grpc_server: grpc.Server, health_servicer: Health, names: Sequence[str]
    ) -> None:
        self.grpc_server = grpc_server
        self.health = health_servicer
        self.service_names = tuple(names)
        self._stopped = threading.Event()

    def start(self) -> None:
        self._start_serving()
        for name in (*self.service_names, ""):
            self.health.set(name, SERVING)

    def stop(self, grace: float | None = 5.0, *, drain: float = 0.0) -> None:
        """Shut down gracefully; safe to call more than once."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        if drain > 0:
            time.sleep(drain)
        self._stop_serving(grace)

    def _start_serving(self) -> None:
        self.grpc_server.start()

    def _stop_serving(self, grace: float | None) -> None:
        self.grpc_server.stop(grace).wait()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self.grpc_server.wait_for_termination(timeout))

    def run_until_signal(
        self,
        *,
        grace: float = 10.0,
        drain: float = 0.0,
        signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    ) -> signal.Signals:
        """Block (in the main thread) until one of `signals` arrives, then stop
        gracefully; returns the signal received."""
        received: list[signal.Signals] = []
        wake = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            received.append(signal.Signals(signum))
            wake.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in signals}
        try:
            while not wake.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopping", extra={"signal": received[0].name, "grace_seconds": grace})
        self.stop(grace, drain=drain)
        return received[0]


def create_server(
    registrations: Sequence[Registration],
    *,
    domain: str,
    address: str = "127.0.0.1:0",
    credentials: grpc.ServerCredentials | None = None,
    verifier: AssertionVerifier | None = None,
    service_accounts: Mapping[str, ServiceAccount] | None = None,
    max_workers: int = 16,
    options: Sequence[tuple[str, Any]] = (),
    on_denied: DenialHook | None = None,
    audit_sink: AuditSink | None = None,
    audit_outbox: AuditOutbox | None = None,
    async_streams: bool = False,
    dependencies: Mapping[str, Probe] | None = None,
) -> tuple[Server, int]:
    """Build (not start) a server for `registrations`; returns it and the bound port.

    `domain` is the service name used in ErrorInfo ("billing" → "billing.palmgrid").
    `credentials` None means plaintext. `verifier` checks identity assertions (None:
    only public methods and certificate-authenticated service accounts can be called).
    `service_accounts` maps mTLS client-certificate CNs to what they may do.
    `on_denied` hears of every authentication or authorization refusal (for the audit log).
    `audit_sink` takes the records of `audited` methods (None: they are not recorded;
    `build_server` always gives one) and `audit_outbox` keeps those it could not take
    at once (`build_server` gives one in the service's database).
    `async_streams` serves on grpc.aio (an `AsyncServer`) for services holding many
    streams open: blocking methods still run on a pool of `max_workers` threads, and
    server streams written as async generators run on the server's event loop (a thread
    of its own), holding no pool thread while they wait.
    `dependencies` are further health-check names answered by running their probe
    (`servers.runtime.health`: `build_server` gives "database").
    """
    names, methods = _checked(registrations)
    pool = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"grpc-{domain}")
    parts = _pipeline(domain, verifier, service_accounts, on_denied, audit_sink, audit_outbox)
    # Without this, a second process on the same port would silently share it.
    server_options = [
        ("grpc.so_reuseport", 0),
        # Balanced clients keep a health Watch open on every replica, and their
        # keepalive pings on such an idle stream would count as abuse (grpc's default
        # tolerates one every 5 minutes): the server would answer GOAWAY too_many_pings
        # and fail the calls in flight. The callers are our own mTLS clients.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        *options,
    ]
    if not async_streams:
        # The span is outermost, so the pipeline's log line and audit record carry it.
        interceptors = [tracing_interceptor(), RuntimeInterceptor(methods, **parts)]
        grpc_server = grpc.server(pool, interceptors=interceptors, options=server_options)
        threaded_health = DependencyHealth(dependencies or {})
        _install(grpc_server, registrations, names, threaded_health)
        _not_serving(threaded_health, names)
        port = _bind(grpc_server, address, credentials)
        return Server(grpc_server, threaded_health, names), port
    interceptor = AioRuntimeInterceptor(methods, pool=pool, **parts)
    loop = _EventLoopThread(f"grpc-{domain}-loop")

    async def build() -> grpc.aio.Server:
        return grpc.aio.server(
            migration_thread_pool=pool,
            interceptors=[
                tracing_aio_interceptor(_blocking_streams(registrations, methods)),
                interceptor,
            ],
            options=server_options,
        )

    try:
        aio_server = loop.run(build())
        health_servicer = _LoopHealth(loop.run(_aio_health(dependencies or {})), loop)
        _install(aio_server, registrations, names, health_servicer.servicer)
        _not_serving(health_servicer, names)
        port = _bind(aio_server, address, credentials)
    except BaseException:
        loop.close()
        pool.shutdown(wait=False)
        raise
    return AsyncServer(aio_server, health_servicer, names, loop, pool), port


class _EventLoopThread:
    """An asyncio event loop running on a daemon thread; `run` waits for a coroutine."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class AsyncServer(Server):
    """A PalmGrid server on grpc.aio (`create_server(async_streams=True)`), driven from ordinary
    threads like `Server`: the aio server lives on its own event-loop thread."""

    def __init__(
        self,
        grpc_server: grpc.aio.Server,
        health_servicer: Health,
        names: Sequence[str],
        loop: _EventLoopThread,
        pool: futures.ThreadPoolExecutor,
    ) -> None:
        super().__init__(grpc_server, health_servicer, names)  # type: ignore[arg-type]
        self.aio_server = grpc_server
        self.event_loop = loop
        self._pool = pool
        self._terminated = threading.Event()

    def _start_serving(self) -> None:
        self.event_loop.run(self.aio_server.start())

    def _stop_serving(self, grace: float | None) -> None:
        try:
            self.event_loop.run(self.aio_server.stop(grace))
        finally:
            self.event_loop.close()
            self._pool.shutdown(wait=False)
            self._terminated.set()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._terminated.wait(timeout)


def _checked(
    registrations: Sequence[Registration],
) -> tuple[list[str], dict[str, MethodInfo]]:
    """The services' names and method table, once their contracts and servicers pass
    the start-up checks."""
    names = [registration.full_name for registration in registrations]
    for name in names:
        find_service(name)  # fail fast on a typo or a generated module not imported
    methods = dict(method_table(names))
    for registration in registrations:
        unbuilt = unbuilt_methods(registration.servicer, find_service(registration.full_name))
        if unbuilt:
            raise ContractError(
                f"{registration.full_name} leaves {', '.join(unbuilt)} to grpc's generated "
                "base class; register it with servers.runtime.declared so they answer "
                "UNIMPLEMENTED"
            )
    return names, methods


def _blocking_streams(
    registrations: Sequence[Registration], methods: Mapping[str, MethodInfo]
) -> frozenset[str]:
    """The streaming methods a servicer writes as blocking code (not async generators)."""
    servicers = {registration.full_name: registration.servicer for registration in registrations}
    return frozenset(
        method.path
        for method in methods.values()
        if (method.client_streaming or method.server_streaming)
        and not is_async(getattr(servicers.get(method.service), method.name, None))
    )


def _pipeline(
    domain: str,
    verifier: AssertionVerifier | None,
    service_accounts: Mapping[str, ServiceAccount] | None,
    on_denied: DenialHook | None,
    audit_sink: AuditSink | None,
    audit_outbox: AuditOutbox | None,
) -> dict[str, Any]:
    """The interceptor's parts, the same on both servers."""
    return {
        "domain": domain_for(domain),
        "authenticator": Authenticator(verifier, service_accounts),
        "validator": RequestValidator(),
        "on_denied": on_denied,
        "auditor": CallAuditor(audit_sink, audit_outbox) if audit_sink is not None else None,
    }


async def _aio_health(dependencies: Mapping[str, Probe]) -> health.aio.HealthServicer:
    """grpc's asyncio health servicer with the dependency checks, made on the loop that
    serves it."""
    return AioDependencyHealth(dependencies)


def _install(
    grpc_server: Any,
    registrations: Sequence[Registration],
    names: Sequence[str],
    health_servicer: Any,
) -> None:
    """Register the services, health and reflection on `grpc_server` (synchronous or
    aio)."""
    for registration in registrations:
        registration.add_to_server(registration.servicer, grpc_server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server
    )


def _not_serving(health_servicer: Health, names: Sequence[str]) -> None:
    """Every service, and the server as a whole, NOT_SERVING until `start()`."""
    for name in (*names, ""):
        health_servicer.set(name, NOT_SERVING)


def _bind(grpc_server: Any, address: str, credentials: grpc.ServerCredentials | None) -> int:
    """Bind `address`; the port, or OSError when it cannot be bound."""
    try:
        if credentials is None:
            port = grpc_server.add_insecure_port(address)
        else:
            port = grpc_server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        port = 0
        cause: BaseException | None = exc
    else:
        cause = None
    if port == 0:
        raise OSError(f"cannot bind {address} (in use or not allowed)") from cause
    return int(port)
