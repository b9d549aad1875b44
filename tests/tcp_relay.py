"""A TCP relay between two real endpoints that a test can cut, as a network partition
would: `cut()` drops every open connection and refuses new ones until `restore()`. With
`piece`, what the target answers reaches the client in pieces of at most that many bytes,
a millisecond apart, as a slow or fragmenting network delivers it.

No socket is closed while another thread may still use it (a number closed under a
thread's recv or send could go to a file or socket opened meanwhile): sockets in use are
shut down, which wakes their threads, and closed by the last thread to use them."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass


class TcpRelay:
    """Listens on a free loopback port and relays each connection to `target`."""

    def __init__(self, target: str = "", *, piece: int = 0) -> None:
        self.target = target
        self.piece = piece
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, name="tcp-relay", daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for pair in self._pairs:
                pair.shut()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.cut()
        _shut(self._listener)  # wakes accept()
        self._acceptor.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut or self._closed or not self.target
            if refused:
                _close(client)
                continue
            host, port = self.target.rsplit(":", 1)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                _close(client)
                continue
            pair = _Pair((client, upstream))
            with self._lock:
                # Cut (or closed) while connecting: dropped, as the cut promises.
                if self._cut or self._closed:
                    _close(client)
                    _close(upstream)
                    continue
                self._pairs.add(pair)
            for source, sink, piece in ((client, upstream, 0), (upstream, client, self.piece)):
                pump = threading.Thread(
                    target=self._pump, args=(pair, source, sink, piece), daemon=True
                )
                pump.start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket, piece: int) -> None:
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
            pair.shut()  # the other pump, if still in recv, wakes
            # The last pump closes the sockets, under the lock a `cut()` shuts them under.
            with self._lock:
                pair.running -= 1
                if pair.running == 0:
                    self._pairs.discard(pair)
                    for sock in pair.sockets:
                        sock.close()


@dataclass(eq=False)
class _Pair:
    """A relayed connection's two sockets, and how many of its pumps still run."""

    sockets: tuple[socket.socket, socket.socket]
    running: int = 2

    def shut(self) -> None:
        for sock in self.sockets:
            _shut(sock)


def _close(sock: socket.socket) -> None:
    _shut(sock)
    sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
