"""The gRPC server factory: grpcio's synchronous server with a thread pool, our
interceptor, `grpc.health.v1` health checking, server reflection and graceful shutdown.

The synchronous server measured ~1.7x the calls/s of grpc.aio on this kind of machine,
and SQLModel sessions are synchronous, so servicers are plain blocking code.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from servers.runtime.access import Authenticator
from servers.runtime.audit import AuditSink
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.auditing import CallAuditor
from servers.runtime.errors import domain_for
from servers.runtime.identity import AssertionVerifier
from servers.runtime.interceptor import DenialHook, RuntimeInterceptor
from servers.runtime.methods import ContractError, find_service, method_table
from servers.runtime.service_accounts import ServiceAccount
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


class Server:
    """A PalmGrid gRPC server. `start()` marks every service SERVING; `stop()` marks
    them NOT_SERVING, waits `drain` seconds (so load balancers notice), then stops
    accepting calls and lets in-flight ones finish within `grace` seconds."""

    def __init__(
        self, grpc_server: grpc.Server, health_servicer: health.HealthServicer, names: Sequence[str]
    ) -> None:
        self.grpc_server = grpc_server
        self.health = health_servicer
        self.service_names = tuple(names)
        self._stopped = threading.Event()

    def start(self) -> None:
        self.grpc_server.start()
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
    """
    names = [registration.full_name for registration in registrations]
    for name in names:
        find_service(name)  # fail fast on a typo or a generated module not imported
    methods = method_table(names)
    for registration in registrations:
        unbuilt = unbuilt_methods(registration.servicer, find_service(registration.full_name))
        if unbuilt:
            raise ContractError(
                f"{registration.full_name} leaves {', '.join(unbuilt)} to grpc's generated "
                "base class; register it with servers.runtime.declared so they answer "
                "UNIMPLEMENTED"
            )
    interceptor = RuntimeInterceptor(
        methods,
        domain=domain_for(domain),
        authenticator=Authenticator(verifier, service_accounts),
        validator=RequestValidator(),
        on_denied=on_denied,
        auditor=CallAuditor(audit_sink, audit_outbox) if audit_sink is not None else None,
    )
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"grpc-{domain}"),
        interceptors=[interceptor],
        # Without this, a second process on the same port would silently share it.
        options=[("grpc.so_reuseport", 0), *options],
    )
    for registration in registrations:
        registration.add_to_server(registration.servicer, grpc_server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server
    )
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
    server = Server(grpc_server, health_servicer, names)
    for name in (*names, ""):
        health_servicer.set(name, NOT_SERVING)
    return server, port
