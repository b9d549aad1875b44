"""Serving the edge: uvicorn with uvloop and httptools, HTTPS unless told otherwise."""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
import uvicorn

from edge.app import Edge
from edge.httpwrites import CoalescingHttpToolsProtocol

__all__ = ["DrainingServer", "TlsFiles", "dev_tls_dir", "make_server", "upstream_credentials"]

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# How long an idle keep-alive connection stays open. Longer than the clients in front
# keep theirs (nginx's upstream keepalive_timeout is 60 s, httpx's pool 5 s, uvicorn's
# own default): the client then ends an idle connection, and never sends a request on
# one the edge is closing at that moment (which fails the request, unretried if a POST).
KEEP_ALIVE_SECONDS = 75


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


class DrainingServer(uvicorn.Server):
    """uvicorn that drains before it stops. On SIGTERM (or SIGINT) the edge is marked
    draining, so `/healthz` answers 503 and the load balancer's check takes this replica
    out, while requests are still served for `drain` seconds; then uvicorn's own graceful
    shutdown: stop listening, let in-flight requests finish (within the config's
    `timeout_graceful_shutdown`), close. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, *, edge: Edge | None, drain: float) -> None:
        super().__init__(config)
        self.edge = edge
        self.drain = drain
        self._drain_timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.edge is not None:
            self.edge.draining = True
        if self.drain > 0 and self._drain_timer is None and not self.should_exit:
            self._drain_timer = threading.Timer(self.drain, self._stop, (sig, frame))
            self._drain_timer.daemon = True
            self._drain_timer.start()
            return
        self._stop(sig, frame)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn would raise the signal again once stopped, so the process would die of
        # it; the stop was orderly, so the edge exits 0 instead.
        self._captured_signals.clear()


def make_server(
    app: Edge | ASGIApp,
    host: str,
    port: int,
    *,
    tls: TlsFiles | None,
    log_level: str = "warning",
    drain: float = 0.0,
    grace: float | None = None,
    edge: Edge | None = None,
) -> DrainingServer:
    """A uvicorn server for the edge (or the edge wrapped in middleware, then `edge` is
    the Edge inside, whose `/healthz` reports the drain); `tls` None serves plain HTTP
    (loopback tests only). On a stop signal it drains for `drain` seconds (`/healthz`
    503, still serving), then waits up to `grace` seconds (None: without limit) for
    in-flight requests."""
    if tls is not None:
        tls.check()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        # httptools, with a response's header and body writes sent as one (edge.httpwrites).
        http=CoalescingHttpToolsProtocol,
        lifespan="on",
        access_log=False,
        server_header=False,
        # The edge appends to X-Forwarded-For itself; uvicorn must not rewrite the client.
        proxy_headers=False,
        log_level=log_level,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        timeout_graceful_shutdown=int(grace) if grace is not None else None,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    if edge is None and isinstance(app, Edge):
        edge = app
    return DrainingServer(config, edge=edge, drain=drain)
