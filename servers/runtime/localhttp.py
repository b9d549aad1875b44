"""The HTTP server of the local sandboxes that stand in for systems outside the utility
(the payment provider, the SMS and push gateways): threaded, on loopback, and cutting
its open connections when stopped, as a provider that goes away does.

    class _Handler(SandboxHandler):
        def handle_method(self, method: str) -> None: ...   # GET, POST or PUT

    httpd = SandboxHttpServer(("127.0.0.1", 0), _Handler)
    httpd.start("my-sandbox")
    ...
    httpd.stop()

`wait_for_stop_signal()` blocks a sandbox's `__main__` until SIGTERM or SIGINT.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

log = logging.getLogger("palmgrid.sandbox")


class SandboxHttpServer(ThreadingHTTPServer):
    """A threaded HTTP server that knows its open connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.port}"

    def start(self, name: str) -> None:
        """Serve in a daemon thread called `name`."""
        threading.Thread(target=self.serve_forever, args=(0.05,), name=name, daemon=True).start()

    def stop(self) -> None:
        """Stop serving and cut every open connection."""
        self.shutdown()
        self.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def track(self, connection: socket.socket, *, active: bool) -> None:
        with self._lock:
            if active:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class SandboxHandler(BaseHTTPRequestHandler, abc.ABC):
    """Tracks its connection on a SandboxHttpServer and hands GET, POST and PUT to
    `handle_method`."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self._server().track(self.connection, active=True)

    def finish(self) -> None:
        self._server().track(self.connection, active=False)
        super().finish()

    def _server(self) -> SandboxHttpServer:
        assert isinstance(self.server, SandboxHttpServer)
        return self.server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox request: " + format % args)

    def do_GET(self) -> None:
        self.handle_method("GET")

    def do_POST(self) -> None:
        self.handle_method("POST")

    def do_PUT(self) -> None:
        self.handle_method("PUT")

    @abc.abstractmethod
    def handle_method(self, method: str) -> None:
        """Answer the request (`method` is GET, POST or PUT); each sandbox writes its own."""


def wait_for_stop_signal() -> None:
    """Block until the process gets SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
