"""Every PalmGrid setting, read from `PALMGRID_*` environment variables in one place.

`load_settings()` reads the environment; tests build `Settings(...)` with keyword arguments.
The `production` profile refuses settings that only make sense on a developer's machine
(see `Settings.production_problems`). docs/runtime.md lists every variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from palmlib.balancing import TargetError, grpc_target
from servers.runtime import tls
from servers.runtime.db import is_sqlite

# The table lives in its own module; re-exported here, where the settings use it.
from servers.runtime.service_accounts import DEFAULT_SERVICE_ACCOUNTS, ServiceAccount

if TYPE_CHECKING:
    import grpc

Profile = Literal["dev", "production"]
# plaintext: no TLS (dev only); tls: server certificate only; mtls: clients must present a
# certificate signed by the configured CA, and its CN names a service account.
GrpcSecurity = Literal["plaintext", "tls", "mtls"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Default gRPC port of each service; the order is the start order of `./dev up`.
SERVICE_PORTS: dict[str, int] = {
    "account": 50051,
    "billing": 50052,
    "outage": 50053,
    "expansion": 50054,
    "inspection": 50055,
    "care": 50056,
    "ingest": 50057,
    "notification": 50058,
}
SERVICE_NAMES: tuple[str, ...] = tuple(SERVICE_PORTS)
# The worker is no service of the system's data, but serves a gRPC API of its own (its
# jobs, palmgrid.worker.v1) on this port: the processes others reach over gRPC.
WORKER_PORT = 50059
GRPC_PORTS: dict[str, int] = {**SERVICE_PORTS, "worker": WORKER_PORT}
GRPC_SERVER_NAMES: tuple[str, ...] = tuple(GRPC_PORTS)

DEFAULT_DEV_PASSWORD = "Palm-dev-2026!"
DEV_IDENTITY_KEY_ID = "dev"
# The subject of the CA `./dev up` creates (servers.runtime.devcerts).
DEV_CA_NAME = "PalmGrid dev CA"
# The account service's default idle timeout; production may not shorten it.
DEFAULT_SESSION_IDLE_SECONDS = 1800


# Settings production must set itself: their defaults are the dev PKI, the dev key
# folder and the one Memcached `./dev up` starts.
_DEV_DEFAULTS = {
    "tls_cert_file": "the dev PKI's server certificate",
    "tls_key_file": "the dev PKI's server key",
    "tls_ca_file": "the dev PKI's CA",
    "identity_keys_dir": "the dev identity keys under the data dir",
    "memcached_servers": "the dev Memcached on 127.0.0.1:11211",
}


class SettingsError(ValueError):
    """The settings are inconsistent or not allowed in the chosen profile."""


class ServiceEndpoint(BaseModel):
    """Where one service listens and where others reach it."""

    name: str
    port: int
    target: str


class Settings(BaseSettings):
    """PalmGrid's configuration. Field `x` is read from `PALMGRID_X`."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_", extra="ignore", frozen=True)

    profile: Profile = "dev"
    data_dir: Path = Path(".palmgrid")
    log_level: LogLevel = "INFO"

    # Persistence: one URL for every service, or one per service; default SQLite files.
    database_url: str | None = None
    account_database_url: str | None = None
    billing_database_url: str | None = None
    outage_database_url: str | None = None
    expansion_database_url: str | None = None
    inspection_database_url: str | None = None
    care_database_url: str | None = None
    ingest_database_url: str | None = None
    notification_database_url: str | None = None
    # The worker's own job-state database (servers.worker; its jobs API reads it too).
    worker_database_url: str | None = None
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    # gRPC listeners: host to bind, port per service, target others use to reach it.
    listen_host: str = "127.0.0.1"
    account_port: int = SERVICE_PORTS["account"]
    billing_port: int = SERVICE_PORTS["billing"]
    outage_port: int = SERVICE_PORTS["outage"]
    expansion_port: int = SERVICE_PORTS["expansion"]
    inspection_port: int = SERVICE_PORTS["inspection"]
    care_port: int = SERVICE_PORTS["care"]
    ingest_port: int = SERVICE_PORTS["ingest"]
    notification_port: int = SERVICE_PORTS["notification"]
    worker_port: int = WORKER_PORT
    account_target: str | None = None
    billing_target: str | None = None
    outage_target: str | None = None
    expansion_target: str | None = None
    inspection_target: str | None = None
    care_target: str | None = None
    ingest_target: str | None = None
    notification_target: str | None = None
    worker_target: str | None = None
    grpc_max_workers: int = Field(default=16, ge=1)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    shutdown_drain_seconds: float = Field(default=0.0, ge=0)

    # Prometheus metrics of each process on host:port (docs/observability.md); 0: none.
    metrics_host: str = "127.0.0.1"
    account_metrics_port: int = Field(default=0, ge=0, le=65535)
    billing_metrics_port: int = Field(default=0, ge=0, le=65535)
    outage_metrics_port: int = Field(default=0, ge=0, le=65535)
    expansion_metrics_port: int = Field(default=0, ge=0, le=65535)
    inspection_metrics_port: int = Field(default=0, ge=0, le=65535)
    care_metrics_port: int = Field(default=0, ge=0, le=65535)
    ingest_metrics_port: int = Field(default=0, ge=0, le=65535)
    notification_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    # The edge's HTTPS listener.
    edge_host: str = "127.0.0.1"
    edge_port: int = 8443

    # TLS. Unset paths default to the dev PKI under <data dir>/tls (see devcerts).
    grpc_security: GrpcSecurity = "mtls"
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_client_cert_file: Path | None = None
    tls_client_key_file: Path | None = None
    service_accounts: dict[str, ServiceAccount] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICE_ACCOUNTS)
    )

    # Identity assertions: Ed25519 keys as <key id>.pub / <key id>.key files.
    identity_keys_dir: Path | None = None
    identity_key_id: str = DEV_IDENTITY_KEY_ID

    # The working-day calendar's `<year>.toml` files; unset: the shipped official ones.
    calendar_dir: Path | None = None

    memcached_servers: Annotated[tuple[str, ...], NoDecode] = ("127.0.0.1:11211",)

    # Dev-only conveniences, refused by the production profile.
    dev_captcha: str | None = None
    dev_password: str = DEFAULT_DEV_PASSWORD
    # Base32 TOTP secret the demo staff are enrolled with (a second factor a newcomer
    # can add to an authenticator app); unset or empty: they sign in with the password.
    dev_totp_secret: str | None = None
    session_idle_seconds: int | None = Field(default=None, gt=0)

    @field_validator("memcached_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(*(f"{name}_target" for name in SERVICE_NAMES))
    @classmethod
    def _check_target(cls, value: str | None) -> str | None:
        # A service's replicas: `host:port`, a DNS name, or `ip:port,ip:port` (several).
        if value is not None:
            try:
                grpc_target(value)
            except TargetError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_profile(self) -> Settings:
        if self.profile == "production":
            problems = self.production_problems()
            if problems:
                raise SettingsError("the production profile refuses: " + "; ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What this configuration has that production must not; empty when none.

        The one list of dev settings production refuses (docs/runtime.md, Settings);
        `process_problems` adds what depends on the process starting."""
        problems: list[str] = []
        explicit = self.model_fields_set
        # The dev PKI and dev keys live at the data dir's defaults: production names
        # every certificate, key and pool itself.
        for field_name, default in _DEV_DEFAULTS.items():
            if field_name not in explicit:
                problems.append(f"PALMGRID_{field_name.upper()} unset ({default})")
        if self.identity_key_id == DEV_IDENTITY_KEY_ID:
            problems.append(f"PALMGRID_IDENTITY_KEY_ID={DEV_IDENTITY_KEY_ID} (the dev signing key)")
        if self.dev_captcha is not None:
            problems.append("PALMGRID_DEV_CAPTCHA (fixed captcha answers)")
        if "dev_password" in explicit:
            problems.append("PALMGRID_DEV_PASSWORD (demo passwords)")
        if self.dev_totp_secret:
            problems.append("PALMGRID_DEV_TOTP_SECRET (a known second-factor secret)")
        if (
            self.session_idle_seconds is not None
            and self.session_idle_seconds < DEFAULT_SESSION_IDLE_SECONDS
        ):
            problems.append(
                f"PALMGRID_SESSION_IDLE_SECONDS below {DEFAULT_SESSION_IDLE_SECONDS} "
                "(shortened session idle timeout)"
            )
        if self.grpc_security == "plaintext":
            problems.append("PALMGRID_GRPC_SECURITY=plaintext (gRPC without TLS)")
        else:
            files = {
                "PALMGRID_TLS_CERT_FILE": self.server_cert_file,
                "PALMGRID_TLS_KEY_FILE": self.server_key_file,
                "PALMGRID_TLS_CA_FILE": self.ca_file,
            }
            for name, path in files.items():
                if not path.is_file():
                    problems.append(f"{name}: missing file {path}")
            if self.ca_file.is_file() and _is_dev_ca(self.ca_file):
                problems.append(f"PALMGRID_TLS_CA_FILE: {self.ca_file} is the dev PKI's CA")
        if not any(self.identity_dir.glob("*.pub")):
            problems.append(f"PALMGRID_IDENTITY_KEYS_DIR: no public keys in {self.identity_dir}")
        return problems

    def process_problems(self, process: str, *, demo_data: bool | None = None) -> list[str]:
        """What production refuses for `process` (a service or "worker") beyond
        `production_problems`: a SQLite database, demo data asked for. Empty in dev."""
        if self.profile != "production":
            return []
        problems: list[str] = []
        if is_sqlite(self.database_url_for(process)):
            problems.append(
                f"{process} would use SQLite: production requires PostgreSQL "
                f"(set PALMGRID_DATABASE_URL or PALMGRID_{process.upper()}_DATABASE_URL)"
            )
        if demo_data:
            problems.append(f"PALMGRID_{process.upper()}_DEMO_DATA=true (demo data)")
        return problems

    def require_fit_for(self, process: str, *, demo_data: bool | None = None) -> None:
        """Raise SettingsError naming each of `process_problems`."""
        problems = self.process_problems(process, demo_data=demo_data)
        if problems:
            raise SettingsError("the production profile refuses: " + "; ".join(problems))

    # --- derived values -------------------------------------------------------------

    @property
    def tls_dir(self) -> Path:
        """Where the dev PKI lives, and the default location of every TLS file."""
        return self.data_dir / "tls"

    @property
    def server_cert_file(self) -> Path:
        return self.tls_cert_file or self.tls_dir / "server.pem"

    @property
    def server_key_file(self) -> Path:
        return self.tls_key_file or self.tls_dir / "server.key"

    @property
    def ca_file(self) -> Path:
        return self.tls_ca_file or self.tls_dir / "ca.pem"

    def client_cert_files(self, account: str) -> tuple[Path, Path]:
        """(certificate, key) this process presents as `account` under mTLS."""
        return (
            self.tls_client_cert_file or self.tls_dir / f"{account}.pem",
            self.tls_client_key_file or self.tls_dir / f"{account}.key",
        )

    def client_credentials(self, account: str) -> grpc.ChannelCredentials | None:
        """Channel credentials for calling a PalmGrid service; None when plaintext."""
        return tls.channel_credentials_for(self, account)

    @property
    def identity_dir(self) -> Path:
        return self.identity_keys_dir or self.data_dir / "identity"

    @property
    def memcached_host(self) -> str:
        """Host of the first Memcached server (the one `./dev up` starts)."""
        return self.memcached_servers[0].rpartition(":")[0]

    @property
    def memcached_port(self) -> int:
        """Port of the first Memcached server."""
        return int(self.memcached_servers[0].rpartition(":")[2])

    def service(self, name: str) -> ServiceEndpoint:
        """The listen port and the target address of service `name`."""
        _check_service(name)
        port: int = getattr(self, f"{name}_port")
        target: str | None = getattr(self, f"{name}_target")
        return ServiceEndpoint(name=name, port=port, target=target or f"127.0.0.1:{port}")

    def service_address(self, name: str) -> str:
        """host:port where other processes reach service `name` (or several, comma
        separated: its replicas, see palmlib.balancing)."""
        return self.service(name).target

    def metrics_port(self, process: str) -> int:
        """The Prometheus port of `process` (a service or "worker"); 0 when not served
        (also for a process without a setting of its own, such as a test's probe)."""
        return int(getattr(self, f"{process}_metrics_port", 0))

    def listen_address(self, name: str) -> str:
        """host:port service `name` binds."""
        host = self.listen_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.service(name).port}"

    def database_url_for(self, name: str) -> str:
        """The service's own URL, else the shared one, else a SQLite file in the data dir."""
        _check_service(name, allow_unknown=True)
        own: str | None = getattr(self, f"{name}_database_url", None)
        if own:
            return own
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"


def _is_dev_ca(path: Path) -> bool:
    """Whether the first certificate in `path` is the dev PKI's CA (by its subject)."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return False  # not ours to judge: TLS set-up reports an unreadable CA itself
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(attribute.value == DEV_CA_NAME for attribute in names)


def _check_service(name: str, *, allow_unknown: bool = False) -> None:
    if name not in GRPC_PORTS and not allow_unknown:
        raise SettingsError(f"unknown service {name!r}; known: {', '.join(GRPC_SERVER_NAMES)}")


def load_settings() -> Settings:
    """Settings from the process environment; SettingsError names what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None


def settings_error(exc: ValidationError, prefix: str = "PALMGRID_") -> SettingsError:
    """`exc` as a SettingsError naming each bad variable (`prefix` + the field name in
    upper case: `PALMGRID_BILLING_DUE_DAYS: ...`), so an operator sees what to fix."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        name = f"{prefix}{where.upper()}" if where else "settings"
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        parts.append(f"{name}: {message}" if where else message)
    return SettingsError("; ".join(parts))
