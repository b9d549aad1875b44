"""Serving the edge: uvicorn with uvloop and httptools, HTTPS unless told otherwise."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from edge.app import Edge

__all__ = ["TlsFiles", "dev_tls_dir", "make_server", "upstream_credentials"]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def dev_tls_dir() -> Path:
    """The dev profile's PKI directory (`$PALMGRID_DATA_DIR/tls`, default `.palmgrid/tls`)."""
    return Path(os.environ.get("PALMGRID_DATA_DIR", ".palmgrid")) / "tls"


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its key."""

    cert: Path
    key: Path

    def check(self) -> None:
        for path in (self.cert, self.key):
            if not path.is_file():
                raise FileNotFoundError(f"TLS file not found: {path}")


def upstream_credentials(ca: Path | None, client: TlsFiles | None) -> grpc.ChannelCredentials:
    """TLS to the services; with a client certificate, mutual TLS."""
    root = ca.read_bytes() if ca else None
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    client.check()
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client.key.read_bytes(),
        certificate_chain=client.cert.read_bytes(),
    )


def make_server(
    edge: Edge | ASGIApp, host: str, port: int, *, tls: TlsFiles | None, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for the edge (or the edge wrapped in middleware); `tls` None
    serves plain HTTP (loopback tests only)."""
    if tls is not None:
        tls.check()
    config = uvicorn.Config(
        edge,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        # The edge appends to X-Forwarded-For itself; uvicorn must not rewrite the client.
        proxy_headers=False,
        log_level=log_level,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
    )
    return uvicorn.Server(config)
