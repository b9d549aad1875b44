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
            pair = _Pair(self, client, upstream)
            with self._lock:
                # Cut (or closed) while connecting: dropped, as the cut promises.
                if self._cut or self._closed:
                    _close(client)
                    _close(upstream)
                    continue
                self._pairs.add(pair)
            for source, sink, piece in ((client, upstream, 0), (upstream, client, self.piece)):
                pump = threading.Thread(target=_pump, args=(pair, source, sink, piece), daemon=True)
                pump.start()

    def _ended(self, pair: _Pair) -> None:
        """`pair`'s last pump has ended: its sockets are closed under the relay's lock, so
        a `cut()` never shuts down a number being closed."""
        with self._lock:
            self._pairs.discard(pair)
            for sock in pair.sockets:
                sock.close()


class _Pair:
    """A relayed connection's two sockets and the two pumps between them."""

    def __init__(self, relay: TcpRelay, *sockets: socket.socket) -> None:
        self.relay = relay
        self.sockets = sockets
        self._running = 2
        self._lock = threading.Lock()

    def shut(self) -> None:
        for sock in self.sockets:
            _shut(sock)

    def pump_ended(self) -> None:
        self.shut()  # the other pump, if still in recv, wakes
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self.relay._ended(self)


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
