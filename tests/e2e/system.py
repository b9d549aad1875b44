"""A whole PalmGrid in one test process: real services on port 0 over mTLS, a real
Memcached, and the edge with its security and caching stages serving HTTPS on a free
port, as `./dev up` runs it (fewer demo customers, cheap password hashing)."""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import palmgrid
from cachetags import CachePool, FlightOptions, PoolOptions
from edge.config import EdgeConfig
from edge.descriptors import Catalog
from edge.security.assemble import SecureEdge, SecuritySettings, build_secure_edge
from edge.security.sessions import SessionPolicy
from edge.server import TlsFiles, make_server, upstream_credentials
from servers.account.config import AccountConfig
from servers.account.service import make_spec as account_spec
from servers.billing.config import BillingConfig
from servers.billing.payments.sandbox import Behaviour, Sandbox, start_sandbox
from servers.billing.payments.service import payment_service
from servers.billing.payments.settings import PaymentSettings
from servers.billing.service import make_spec as billing_spec
from servers.runtime import Registration, Runtime, Server, ServiceSpec, Settings, build_server
from servers.runtime.devcerts import SERVICE_ACCOUNTS as DEV_ACCOUNTS
from servers.runtime.devcerts import ensure_dev_pki
from servers.runtime.identity import ensure_key_pair
from servers.runtime.settings import DEFAULT_SERVICE_ACCOUNTS, ServiceAccount
from tools import memcached
from tools.ports import free_port

CAPTCHA = "PALM7"
STAFF_PASSWORD = "Palm-dev-2026!"
PASSWORD = "Tide-pool-88!"
DEMO_CUSTOMERS = 20
# Cheap Argon2; and, since the tests of a module bind the same few demo customers for
# many users, caps per customer far above the service's (tests of those caps set their
# own).
FAST_ARGON2 = AccountConfig(
    argon2_time_cost=1,
    argon2_memory_kib=1024,
    argon2_parallelism=1,
    binding_users_per_customer=10_000,
    binding_attempts_per_customer=10_000,
)
DESCRIPTOR_SET = Path(palmgrid.__path__[0]) / "descriptors.binpb"
# An origin allowed by CORS (a console served from elsewhere).
CONSOLE_ORIGIN = "https://console.palmgrid.test"
# The web console's files, served by the edge at /console/.
CONSOLE_DIR = Path(__file__).resolve().parents[2] / "clients" / "console"
# Services the phone reaches through the edge (by process name and full service name).
ROUTED = {
    "account": ["palmgrid.account.v1.AccountService", "palmgrid.account.v1.AccountAdminService"],
    "billing": ["palmgrid.billing.v1.BillingService", "palmgrid.billing.v1.BillingAdminService"],
    "outage": ["palmgrid.outage.v1.OutageService"],
    "expansion": ["palmgrid.expansion.v1.ExpansionService"],
    "inspection": ["palmgrid.inspection.v1.InspectionService"],
    "care": ["palmgrid.care.v1.CareService"],
    "ingest": ["palmgrid.ingest.v1.IngestService"],
    "worker": ["palmgrid.worker.v1.WorkerService"],
}


class CountingServicer:
    """A real servicer whose calls are counted per method, as seen by the service; a
    method with an event in `holds` waits for it to be set (at most `HOLD_SECONDS`)
    before it runs, so a test can keep calls on their way."""

    def __init__(
        self, inner: object, counts: Counter[str], holds: dict[str, threading.Event]
    ) -> None:
        self._inner = inner
        self._counts = counts
        self._holds = holds

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target) or not name[:1].isupper():
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[name] += 1
            hold = self._holds.get(name)
            if hold is not None:
                hold.wait(HOLD_SECONDS)
            return target(*args, **kwargs)

        return counted


HOLD_SECONDS = 10.0


def counting(
    spec: ServiceSpec, counts: Counter[str], holds: dict[str, threading.Event] | None = None
) -> ServiceSpec:
    held = holds if holds is not None else {}

    def registrations(runtime: Runtime) -> list[Registration]:
        return [
            Registration(r.full_name, CountingServicer(r.servicer, counts, held), r.add_to_server)
            for r in spec.registrations(runtime)
        ]

    return dataclasses.replace(spec, registrations=registrations)


@dataclass
class Service:
    name: str
    server: Server
    port: int
    runtime: Runtime

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(0)
        self.runtime.close()


class HttpsEdge:
    """The secure edge's ASGI app under uvicorn, HTTPS on a free loopback port."""

    def __init__(self, secure: SecureEdge, tls: TlsFiles) -> None:
        self.secure = secure
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._server = make_server(secure.app, "127.0.0.1", self.port, tls=tls)  # type: ignore[arg-type]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> HttpsEdge:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the edge did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        self.secure.close()


@dataclass
class System:
    data_dir: Path
    settings: Settings
    services: dict[str, Service]
    memcached: memcached.MemcachedProcess
    edge: HttpsEdge
    sandbox: Sandbox
    billing_calls: Counter[str] = field(default_factory=Counter)
    account_calls: Counter[str] = field(default_factory=Counter)
    # Account methods whose calls wait for the event (see CountingServicer).
    account_holds: dict[str, threading.Event] = field(default_factory=dict)
    security: SecuritySettings | None = None
    upstreams: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.edge.url

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    @property
    def secure(self) -> SecureEdge:
        return self.edge.secure

    def stop(self) -> None:
        self.edge.stop()
        for service in self.services.values():
            service.stop()
        self.sandbox.stop()
        self.memcached.process.kill()
        self.memcached.process.wait()


# The tests' own certificate: it reads the audit log to check what reached it. Every
# process of the system holds its real row of the service-account table.
TESTER = "tester"


def prepare_data_dir(directory: Path) -> Path:
    ensure_dev_pki(directory / "tls", accounts=(*DEV_ACCOUNTS, TESTER))
    ensure_key_pair(directory / "identity", "dev")
    return directory


def service_accounts() -> dict[str, ServiceAccount]:
    """The default service accounts, and the tests' own."""
    # It reads the audit log, and the outbox (the binding codes sent by SMS).
    tester = ServiceAccount(
        roles=("service",),
        permissions=("account.auditRecords.list", "notification.messages.list"),
        all_supply_offices=True,
    )
    return {**DEFAULT_SERVICE_ACCOUNTS, TESTER: tester}


def service_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "service_accounts": service_accounts(),
        "profile": "dev",
        "data_dir": data_dir,
        "grpc_security": "mtls",
        "dev_captcha": CAPTCHA,
        "grpc_max_workers": 8,
        **{f"{name}_database_url": f"sqlite:///{data_dir / f'{name}.db'}" for name in ROUTED},
        **overrides,
    }
    return Settings(**values)


def _start(data_dir: Path, name: str, settings: Settings, address: str = "127.0.0.1:0") -> Service:
    """Service `name` from its SPEC, started on `address` (port 0: any)."""
    spec = importlib.import_module(f"servers.{name}.service").SPEC
    server, port, runtime = build_server(spec, settings, address=address)
    server.start()
    return Service(name, server, port, runtime)


def start_system(
    data_dir: Path,
    *,
    settings_overrides: dict[str, Any] | None = None,
    demo_customers: int = DEMO_CUSTOMERS,
    account_config: AccountConfig | None = None,
    **edge_options: Any,
) -> System:
    """A system on `data_dir`, which starts as a copy of a data directory a fresh system
    left (its SQLite databases migrated and seeded, its keys made): the services then
    start as `./dev up` restarts them, without migrating and seeding again (most of a
    fresh start's time). Overridden database URLs start from nothing. `edge_options`:
    the edge's `session`, `flight` and `edit_security` (see `_launch`)."""
    config = account_config or FAST_ARGON2
    if not any(key.endswith("_database_url") for key in settings_overrides or {}):
        template = seeded_data_dir(demo_customers, config)
        shutil.copytree(template, data_dir, dirs_exist_ok=True)
    return _launch(
        data_dir,
        settings_overrides=settings_overrides,
        demo_customers=demo_customers,
        account_config=config,
        **edge_options,
    )


# Data directories a fresh system left, by what the seeded rows depend on (see
# seeded_data_dir); removed when the test process exits.
_SEEDED: dict[str, Path] = {}
_SEEDING_FIELDS = {
    "demo_data",
    "pepper",
    "pepper_file",
    "argon2_time_cost",
    "argon2_memory_kib",
    "argon2_parallelism",
}


def seeded_data_dir(demo_customers: int, account_config: AccountConfig) -> Path:
    """The data directory a fresh system with these demo customers and this password
    hashing left once stopped, made the first time it is asked for."""
    key = f"{demo_customers}:{account_config.model_dump_json(include=_SEEDING_FIELDS)}"
    if key not in _SEEDED:
        directory = Path(tempfile.mkdtemp(prefix="palmgrid-seeded-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _launch(directory, demo_customers=demo_customers, account_config=account_config).stop()
        _SEEDED[key] = directory
    return _SEEDED[key]


def _launch(
    data_dir: Path,
    *,
    settings_overrides: dict[str, Any] | None = None,
    session: SessionPolicy | None = None,
    flight: FlightOptions | None = None,
    edit_security: Callable[[SecuritySettings], SecuritySettings] | None = None,
    demo_customers: int = DEMO_CUSTOMERS,
    account_config: AccountConfig | None = None,
) -> System:
    prepare_data_dir(data_dir)
    billing_calls: Counter[str] = Counter()
    account_calls: Counter[str] = Counter()
    account_holds: dict[str, threading.Event] = {}
    services: dict[str, Service] = {}
    # Services bump cache tags in the edge's Memcached (billing's data, account's scopes).
    node = memcached.start(memory_mb=32)
    # The account service starts after billing (it needs billing's address), but the
    # others write their audit records to it from their first audited call: its port is
    # chosen first.
    account_address = f"127.0.0.1:{free_port()}"
    # Account sends binding codes through notification, which asks account for
    # recipients: notification's port is chosen first too.
    notification_address = f"127.0.0.1:{free_port()}"
    settings_overrides = {
        "memcached_servers": (node.address,),
        "account_target": account_address,
        "notification_target": notification_address,
        **(settings_overrides or {}),
    }
    settings = service_settings(data_dir, **settings_overrides)
    specs: dict[str, ServiceSpec] = {
        "billing": counting(
            billing_spec(BillingConfig(demo_data=True, demo_customers=demo_customers)),
            billing_calls,
        ),
    }
    server, port, runtime = build_server(specs["billing"], settings, address="127.0.0.1:0")
    sandbox = start_payments(settings, runtime, port)
    server.start()
    services["billing"] = Service("billing", server, port, runtime)
    # The account service verifies bindings with billing.
    settings = service_settings(
        data_dir, billing_target=services["billing"].target, **settings_overrides
    )
    services["account"] = start_account(
        settings, account_address, account_calls, account_config or FAST_ARGON2, account_holds
    )

    # The outbox asks account for recipients; nothing delivers from it here (no worker),
    # so what care and outage send stays queued where tests can read it. Every service
    # reaches account (the audit log) at `account_target`, a relay when a test cuts it.
    services["notification"] = _start(data_dir, "notification", settings, notification_address)
    # Care, outage, expansion and inspection ask billing and account and send through
    # the outbox; care, outage and expansion bump their cache tags in the edge's
    # Memcached after every change.
    for name in ["care", "outage", "expansion", "inspection"]:
        services[name] = _start(data_dir, name, settings)
    # Ingest hands what the source systems push to billing (backwards readings to
    # inspection, applications' steps to expansion), then bumps the customers' cache
    # tags in the edge's Memcached.
    services["ingest"] = _start(
        data_dir,
        "ingest",
        settings.model_copy(
            update={
                "ingest_database_url": f"sqlite:///{data_dir / 'ingest.db'}",
                "inspection_target": services["inspection"].target,
                "expansion_target": services["expansion"].target,
            }
        ),
    )
    # The worker's jobs API on its job database, without the job loop: a test that
    # wants a run makes one (servers.worker.runner.Worker on this runtime).
    services["worker"] = _start(data_dir, "worker", settings)
    security = SecuritySettings(
        fieldcrypt_keys_dir=data_dir / "edge" / "fieldcrypt",
        cache_key_file=data_dir / "edge" / "cache.key",
        memcached_servers=(node.address,),
        pool_options=PoolOptions(dead_timeout=0.5),
        # Readers wait for a leader's upstream call longer than in production
        # (0.25 s), as it can take that long on a loaded test machine.
        flight=flight or FlightOptions(wait_seconds=1.0),
        session=session or SessionPolicy(),
        # Test clients stand behind a "load balancer" on loopback: each sends its own
        # X-Forwarded-For, so per-IP limits of one test do not reach another.
        trusted_proxies=("127.0.0.1/32",),
        cors_origins=(CONSOLE_ORIGIN,),
        console_dir=CONSOLE_DIR,
    )
    if edit_security is not None:
        security = edit_security(security)
    upstreams = {
        service: services[process].target for process, names in ROUTED.items() for service in names
    }
    edge = start_edge(data_dir, upstreams, security)
    return System(
        data_dir,
        settings,
        services,
        node,
        edge,
        sandbox,
        billing_calls,
        account_calls,
        account_holds,
        security=security,
        upstreams=upstreams,
    )


def start_account(
    settings: Settings,
    address: str,
    calls: Counter[str],
    config: AccountConfig = FAST_ARGON2,
    holds: dict[str, threading.Event] | None = None,
) -> Service:
    """The account service (which keeps the audit log) on `address`."""
    spec = counting(account_spec(config=config), calls, holds)
    server, port, runtime = build_server(spec, settings, address=address)
    server.start()
    return Service("account", server, port, runtime)


def prewarm_settings(system: System) -> Settings:
    """The settings a worker beside this system would have: the services' targets and
    the edge's Memcached (the edge's key file is already in the data directory)."""
    return system.settings.model_copy(
        update={
            "account_target": system.services["account"].target,
            "billing_target": system.services["billing"].target,
            "memcached_servers": (system.memcached.address,),
        }
    )


def start_edge(data_dir: Path, upstreams: dict[str, str], security: SecuritySettings) -> HttpsEdge:
    tls = data_dir / "tls"
    credentials = upstream_credentials(tls / "ca.pem", TlsFiles(tls / "edge.pem", tls / "edge.key"))
    secure = build_secure_edge(
        Catalog.from_descriptor_set(DESCRIPTOR_SET),
        upstreams,
        security,
        config=EdgeConfig(),
        channel_credentials=credentials,
    )
    return HttpsEdge(secure, TlsFiles(tls / "server.pem", tls / "server.key")).start()


def start_replica(system: System) -> HttpsEdge:
    """Another edge replica: same keys and Memcached, state of its own."""
    assert system.security is not None
    return start_edge(system.data_dir, system.upstreams, system.security)


def start_payments(settings: Settings, runtime: Runtime, billing_port: int) -> Sandbox:
    """The sandbox provider, and billing's payments wired to it (callbacks over mTLS)."""
    chosen = PaymentSettings(
        provider_url="http://127.0.0.1:1",
        keys_dir=settings.data_dir / "payments",
        notify_url=f"grpcs://127.0.0.1:{billing_port}/wechatpay",
        provider_timeout_seconds=2.0,
        resolve_after_seconds=0.5,
        jobs_interval_seconds=0.5,
    )
    behaviour = Behaviour(confirm_delay_seconds=0.2, callback_retry_seconds=(0.2, 0.5, 1.0))
    sandbox = start_sandbox(settings, chosen, port=0, behaviour=behaviour)
    payment_service(runtime, chosen.model_copy(update={"provider_url": sandbox.url}))
    return sandbox


def system_fixtures() -> tuple[Any, Any]:
    """The `shared_system` and `system` fixtures of a test package: one system for the
    package's modules (starting one takes seconds), and `system`, which is it, or a
    system of the module's own when the module sets `OWN_SYSTEM = True` (it stops or
    breaks parts of it, or changes what other modules rely on: staff accounts, system
    parameters). A module with a `system` fixture of its own uses that instead."""

    @pytest.fixture(scope="package")
    def shared_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
        running = start_system(tmp_path_factory.mktemp("system"))
        yield running
        running.stop()

    @pytest.fixture(scope="module")
    def system(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[System]:
        if not getattr(request.module, "OWN_SYSTEM", False):
            shared: System = request.getfixturevalue("shared_system")
            # Each module starts with an empty cache, as on a system of its own: what
            # an earlier module read is not a hit here.
            with CachePool([shared.memcached.address]) as pool:
                pool.flush_all()
            yield shared
            return
        running = start_system(tmp_path_factory.mktemp("system"))
        yield running
        running.stop()

    return shared_system, system
