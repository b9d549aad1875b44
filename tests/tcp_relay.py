"""A TCP relay between two real endpoints that a test can cut, as a network partition
would: `cut()` drops every open connection and refuses new ones until `restore()`. With
`piece`, what the target answers reaches the client in pieces of at most that many bytes,
a millisecond apart, as a slow or fragmenting network delivers it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class TcpRelay:
    """Listens on a free loopback port and relays each connection to `target`."""

    def __init__(self, target: str = "", *, piece: int = 0) -> None:
        self.target = target
        self.piece = piece
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, name="tcp-relay", daemon=True).start()

    def cut(self) -> None:
        # Shut down, not closed: a pump may be inside recv or send on the socket, and a
        # number closed under it could go to a file or socket opened meanwhile. Each
        # connection's last pump closes its two sockets.
        with self._lock:
            self._cut = True
            for sock in self._open:
                _shut(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _shut(self._listener)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut or not self.target
            if refused:
                _close(client)
                continue
            host, port = self.target.rsplit(":", 1)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            pair = _Pair(client, upstream)
            for source, sink, piece in ((client, upstream, 0), (upstream, client, self.piece)):
                pump = threading.Thread(target=_pump, args=(pair, source, sink, piece), daemon=True)
                pump.start()


class _Pair:
    """A relayed connection's two sockets, closed by the second of its pumps to end."""

    def __init__(self, *sockets: socket.socket) -> None:
        self.sockets = sockets
        self._running = len(sockets)
        self._lock = threading.Lock()

    def pump_ended(self) -> None:
        for sock in self.sockets:
            _shut(sock)  # the other pump, if still in recv, wakes
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            for sock in self.sockets:
                sock.close()


def _pump(pair: _Pair, source: socket.socket, sink: socket.socket, piece: int) -> None:
    if piece:
        sink.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := source.recv(65536):
            if not piece:
                sink.sendall(data)
                continue
            for start in range(0, len(data), piece):
                sink.sendall(data[start : start + piece])
                time.sleep(0.001)
    except OSError:
        pass
    finally:
        pair.pump_ended()


def _close(sock: socket.socket) -> None:
    _shut(sock)
    sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
