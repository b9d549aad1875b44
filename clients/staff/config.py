"""Where the staff CLI finds the services and its credentials (`PALMGRID_*` variables).

The CLI is a client: it reads the same variables as the services it calls, but on its
own, so that it never depends on server code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer

DEFAULT_PORTS = {
    "account": 50051,
    "billing": 50052,
    "outage": 50053,
    "expansion": 50054,
    "inspection": 50055,
    "care": 50056,
    "ingest": 50057,
    "notification": 50058,
    # The worker's jobs API (palmgrid.worker.v1).
    "worker": 50059,
}


@dataclass(frozen=True)
class CliConfig:
    """Addresses, TLS files and the session file of the staff CLI."""

    data_dir: Path
    security: str  # "mtls" | "tls" | "plaintext", as PALMGRID_GRPC_SECURITY
    ca_file: Path
    cert_file: Path
    key_file: Path
    session_file: Path
    # host:port of each Memcached node (PALMGRID_MEMCACHED_SERVERS), for `palm health`.
    memcached_servers: tuple[str, ...] = ("127.0.0.1:11211",)

    def target(self, service: str) -> str:
        """host:port of a PalmGrid service (PALMGRID_<SERVICE>_TARGET or _PORT)."""
        env = os.environ
        explicit = env.get(f"PALMGRID_{service.upper()}_TARGET")
        if explicit:
            return explicit
        port = env.get(f"PALMGRID_{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
        return f"127.0.0.1:{port}"


def load_config() -> CliConfig:
    env = os.environ
    data_dir = Path(env.get("PALMGRID_DATA_DIR", ".palmgrid"))
    tls_dir = data_dir / "tls"
    # The user's config directory (XDG_CONFIG_HOME on Linux), unless told otherwise.
    home = Path(env.get("PALMGRID_CLI_HOME") or typer.get_app_dir("palmgrid"))
    return CliConfig(
        data_dir=data_dir,
        security=env.get("PALMGRID_GRPC_SECURITY", "mtls"),
        ca_file=Path(env.get("PALMGRID_TLS_CA_FILE", tls_dir / "ca.pem")),
        cert_file=Path(env.get("PALMGRID_CLI_CERT_FILE", tls_dir / "cli.pem")),
        key_file=Path(env.get("PALMGRID_CLI_KEY_FILE", tls_dir / "cli.key")),
        session_file=home / "session",
        memcached_servers=tuple(
            part.strip()
            for part in env.get("PALMGRID_MEMCACHED_SERVERS", "127.0.0.1:11211").split(",")
            if part.strip()
        ),
    )
