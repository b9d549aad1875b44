"""uvicorn's httptools protocol, with the writes of one turn of the event loop sent as one.

uvicorn writes a response in two pieces, the status line with the headers and then the
body, and uvloop's TLS transport encrypts and sends each write at once: two TLS records
and two `send` system calls per response, where one of each carries the same bytes (a
cached answer is a few kilobytes, well inside one record). `CoalescingWrites` holds what
is written during a turn of the loop and hands it to the transport as one write at the
end of the turn. uvicorn has no setting for this and uvloop's transport no buffering
of its own, so it is done here, in front of the transport the protocol writes to.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HOLD_AT_MOST", "CoalescingHttpToolsProtocol", "CoalescingWrites"]

# Bytes held before they are written at once: a cached answer and its head fit well
# inside (a TLS record carries up to 16 KiB).
HOLD_AT_MOST = 64 * 1024


class CoalescingWrites:
    """A transport whose writes of one loop turn reach the real transport as one write.

    Everything the connection does goes through it, so writes keep their order with
    each other and with closing: `close` and `write_eof` send what is held first;
    `abort` drops it, as the transport drops its own buffer. Other attributes are the
    transport's.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._loop = asyncio.get_running_loop()  # once, not per write
        self._held: list[bytes] = []
        self._held_size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data) if not isinstance(data, bytes) else data)
        self._held_size += len(data)
        if self._held_size >= HOLD_AT_MOST:
            # Past a few TLS records nothing is saved by waiting, and the transport's
            # write buffer limits (which pause a streaming sender) must see the bytes.
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand what is held to the transport (a closing transport drops it, as it would
        a write of its own)."""
        if not self._held:
            return
        held = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._drop()
        if not self.transport.is_closing():
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._drop()
        self.transport.abort()

    def _drop(self) -> None:
        self._held.clear()
        self._held_size = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over `CoalescingWrites`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingWrites(transport))  # type: ignore[arg-type]

    def eof_received(self) -> None:
        # The peer is done sending; the transport stops taking writes after this
        # returns, and must have what was written before.
        self.transport.flush()  # type: ignore[attr-defined]
        super().eof_received()
