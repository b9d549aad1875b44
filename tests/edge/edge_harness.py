"""Run a real edge (uvicorn, plain HTTP on a free loopback port) in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from edge.app import Edge
from edge.server import make_server


class RunningEdge:
    """`with RunningEdge(edge) as running: httpx.get(running.url + "/v1/…")`."""

    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server(edge, "127.0.0.1", self.port, tls=None)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> RunningEdge:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the edge did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
