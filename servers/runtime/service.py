"""The service entry convention: a `ServiceSpec` says what a service is, `serve(spec)`
runs it. A service's `__main__.py` is then a few lines:

    from servers.billing.service import SPEC
    from servers.runtime import serve

    raise SystemExit(serve(SPEC))

`serve` loads the settings, prepares dev key material (dev profile), migrates the
service's database (dev; production refuses a schema `python -m servers.migrate` has not
brought to head), builds the registrations, seeds the demo data (dev profile), starts
the gRPC server, logs the bound address and waits for SIGTERM/SIGINT to shut down
gracefully. `build_server` does the same minus the waiting, for tests that want the
real wiring on port 0.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from palmlib.telemetry import configure_tracing
from servers.runtime import calls, devcerts, identity, tls
from servers.runtime.audit import AccountAuditSink, AuditSink, DenialAuditor
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.auditing import enlist
from servers.runtime.calendar import WorkingCalendar, load_calendar
from servers.runtime.db import create_engine, limit_to_deadline, session_scope
from servers.runtime.health import DATABASE, database_probe
from servers.runtime.logs import configure_logging
from servers.runtime.metrics import start_metrics_server, watch_engine_pool
from servers.runtime.migrations import SchemaNotCurrent
from servers.runtime.schema import prepare_database
from servers.runtime.server import Registration, Server, create_server
from servers.runtime.service_settings import ServiceSettings
from servers.runtime.settings import Settings, SettingsError, load_settings

log = logging.getLogger("palmgrid.service")

OwnSettings = TypeVar("OwnSettings", bound=ServiceSettings)


@dataclass
class Runtime:
    """What a service's servicers are built with: its settings, its database engine,
    channels to the other services (opened once, shared by all threads) and the sink its
    audit records go to."""

    name: str
    settings: Settings
    engine: Engine
    # The service's own settings (PALMGRID_<SERVICE>_*), loaded by build_server.
    own_settings: ServiceSettings | None = None
    _audit_sink: AuditSink | None = field(default=None, repr=False)
    _channels: dict[str, grpc.Channel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the Runtime closes (before the database goes away), for
        background work a service starts: newest first, each at most once."""
        with self._lock:
            self._on_close.append(callback)

    def settings_of(self, kind: type[OwnSettings]) -> OwnSettings:
        """The service's own settings, of class `kind`: those build_server loaded, else
        (a Runtime built by hand) `kind.load()` from the environment."""
        if self.own_settings is None:
            return kind.load()
        if not isinstance(self.own_settings, kind):
            raise TypeError(f"{self.name} settings are {type(self.own_settings).__name__}")
        return self.own_settings

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction on the service's database (see `servers.runtime.db.session_scope`),
        whose statements PostgreSQL cancels when the call's deadline passes. In an audited
        call, the first such transaction that changes anything also
        commits the call's audit record, as pending (`servers.runtime.auditing.enlist`)."""
        held = None
        call = calls.current_call()
        with session_scope(
            self.engine, write=write, wait=call.time_remaining() if call else None
        ) as session:
            limit_to_deadline(session, call.time_remaining() if call else None)
            yield session
            held = enlist(session)
        if held is not None:
            held()

    def channel(self, service: str) -> grpc.Channel:
        """The channel to another PalmGrid service, authenticated as this service."""
        with self._lock:
            channel = self._channels.get(service)
            if channel is None:
                channel = tls.open_channel(self.settings, service, account=self.name)
                self._channels[service] = channel
            return channel

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar (`PALMGRID_CALENDAR_DIR`, else the shipped one)."""
        return load_calendar(self.settings.calendar_dir)

    @property
    def audit_sink(self) -> AuditSink:
        """Where this server's audit records go: the account service's audit log over
        `channel("account")`, unless the service chose another (`use_audit_sink`)."""
        with self._lock:
            if self._audit_sink is None:
                self._audit_sink = AccountAuditSink(lambda: self.channel("account"))
            return self._audit_sink

    def use_audit_sink(self, sink: AuditSink) -> None:
        """Write this server's audit records to `sink` (the account service, which keeps
        the log, writes its own records locally); call it while building registrations."""
        with self._lock:
            self._audit_sink = sink

    def close(self) -> None:
        with self._lock:
            callbacks, self._on_close = self._on_close[::-1], []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one failing cleanup must not keep the others from running
                log.exception("cleanup failed", extra={"service": self.name})
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
        self.engine.dispose()


@dataclass(frozen=True)
class ServiceSpec:
    """A PalmGrid service: its name ("billing"), a function building its registrations
    from the Runtime, and its Alembic migrations folder (None: no database schema)."""

    name: str
    registrations: Callable[[Runtime], Sequence[Registration]]
    migrations: Path | None = None
    # Background work to begin once the server is up (run by `serve`, not by
    # `build_server`, so tests wire such work themselves).
    on_start: Callable[[Runtime], object] | None = None
    # Loads the service's own settings (`BillingConfig.load`, or a test's fixed ones),
    # called once by build_server; `Runtime.settings_of` hands them out. None: none.
    settings: Callable[[], ServiceSettings] | None = None
    # Writes the dev profile's demo data; build_server runs it after the registrations
    # when the service's settings say so (`ServiceSettings.seeds_demo`). It runs at
    # every start, so it must add only what is missing.
    seed_demo: Callable[[Runtime], None] | None = None
    # Serve on grpc.aio (`create_server(async_streams=True)`): plain methods still run on the thread
    # pool, and server streams written as async generators hold no thread while open.
    # For a service whose clients keep many streams open (outage's watch).
    async_streams: bool = False


def prepare_dev_material(settings: Settings) -> None:
    """In the dev profile, create the dev PKI and identity key pair when missing."""
    if settings.profile != "dev":
        return
    if settings.grpc_security != "plaintext" and settings.tls_cert_file is None:
        devcerts.ensure_dev_pki(settings.tls_dir)
    identity.ensure_key_pair(settings.identity_dir, settings.identity_key_id)


def build_server(
    spec: ServiceSpec, settings: Settings, *, address: str | None = None
) -> tuple[Server, int, Runtime]:
    """Migrate (dev; production checks the schema is current, see servers.runtime.schema),
    create the engine and the server (not started), seeding the demo data
    (dev profile); returns the server, its bound port and the Runtime (close it after
    stopping the server). Every server records its `audited` methods and its refusals
    through `runtime.audit_sink`. Bad service settings raise SettingsError."""
    own_settings = spec.settings() if spec.settings is not None else None
    prepare_dev_material(settings)
    url = prepare_database(
        settings,
        spec.name,
        spec.migrations,
        demo_data=own_settings.demo_data if own_settings else None,
    )
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    runtime = Runtime(spec.name, settings, engine, own_settings=own_settings)
    watch_engine_pool(spec.name, engine)
    try:
        registrations = spec.registrations(runtime)  # may choose the audit sink
        seed_demo_data(spec, runtime)
        outbox = AuditOutbox(engine, spec.name, runtime.audit_sink)
        outbox.start()
        runtime.on_close(outbox.stop)
        server, port = create_server(
            registrations,
            domain=spec.name,
            address=address or settings.listen_address(spec.name),
            credentials=tls.server_credentials_for(settings),
            verifier=identity.AssertionVerifier(
                identity.KeyDirectory(settings.identity_dir), audience=spec.name
            ),
            service_accounts=settings.service_accounts,
            max_workers=settings.grpc_max_workers,
            on_denied=DenialAuditor(runtime.audit_sink, fallback=outbox.keep),
            audit_sink=runtime.audit_sink,
            audit_outbox=outbox,
            async_streams=spec.async_streams,
            dependencies={DATABASE: database_probe(engine)},
        )
    except BaseException:
        runtime.close()
        raise
    return server, port, runtime


def seed_demo_data(spec: ServiceSpec, runtime: Runtime) -> bool:
    """Run the spec's `seed_demo` when the profile and the service's settings say so;
    whether it ran. Replicas starting together may race to insert the same rows, so a
    conflict is retried once (the other replica's rows are then seen and left alone)."""
    if spec.seed_demo is None:
        return False
    own = runtime.own_settings
    wanted = own.seeds_demo(runtime.settings) if own else runtime.settings.profile == "dev"
    if not wanted:
        return False
    for attempt in range(2):
        try:
            spec.seed_demo(runtime)
            break
        except IntegrityError:
            if attempt:
                raise
    return True


def serve_metrics(settings: Settings, process: str) -> int:
    """Start the process's Prometheus endpoint when its port is set; the port (0: none)."""
    port = settings.metrics_port(process)
    if not port:
        return 0
    bound = start_metrics_server(settings.metrics_host, port).server_port
    log.info("metrics", extra={"process": process, "address": f"{settings.metrics_host}:{bound}"})
    return bound


def serve(
    spec: ServiceSpec, settings: Settings | None = None, *, address: str | None = None
) -> int:
    """Run the service until SIGTERM/SIGINT; returns the process exit code."""
    try:
        settings = settings or load_settings()
    except SettingsError as exc:
        print(f"{spec.name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    configure_tracing(spec.name)
    try:
        server, port, runtime = build_server(spec, settings, address=address)
    except (SettingsError, SchemaNotCurrent) as exc:
        print(f"{spec.name}: {exc}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("start-up failed", extra={"service": spec.name})
        return 1
    try:
        server.start()
        if spec.on_start is not None:
            spec.on_start(runtime)
        serve_metrics(settings, spec.name)
        host = (address or settings.listen_address(spec.name)).rpartition(":")[0]
        log.info(
            "serving",
            extra={
                "service": spec.name,
                "address": f"{host}:{port}",
                "port": port,
                "profile": settings.profile,
                "security": settings.grpc_security,
            },
        )
        server.run_until_signal(
            grace=settings.shutdown_grace_seconds, drain=settings.shutdown_drain_seconds
        )
    finally:
        runtime.close()
    log.info("stopped", extra={"service": spec.name})
    return 0
