"""`CoalescingWrites` over real loopback connections: what one turn of the event loop
writes reaches the transport as one write, in order, and closing keeps the order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
import uvloop
from uvicorn.server import ServerState

from edge.httpwrites import HOLD_AT_MOST, CoalescingHttpToolsProtocol, CoalescingWrites
from tests.edge.served_app import served


class CountedTransport:
    """The real transport, with its writes counted."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


Scenario = Callable[[CoalescingWrites], Awaitable[None]]


async def _serve_once(scenario: Scenario) -> tuple[bytes, list[bytes]]:
    """Run `scenario` on the server side of one loopback connection; what the client
    received until the connection ended, and the writes the transport got."""
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[CountedTransport] = loop.create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(CountedTransport(transport))  # type: ignore[arg-type]

    server = await loop.create_server(Accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    counted = await accepted
    await scenario(CoalescingWrites(counted))  # type: ignore[arg-type]
    try:
        received = await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionResetError:
        received = b"<reset>"
    writer.close()
    server.close()
    await server.wait_closed()
    return received, counted.writes


def run(scenario: Scenario) -> tuple[bytes, list[bytes]]:
    return uvloop.run(_serve_once(scenario))


def test_the_writes_of_one_turn_reach_the_transport_as_one() -> None:
    async def respond(writes: CoalescingWrites) -> None:
        writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        writes.write(bytearray(b"hello"))
        await asyncio.sleep(0)  # the end of the turn
        writes.close()

    received, sent = run(respond)
    assert received == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    assert sent == [received]


def test_writes_of_different_turns_are_not_held_back() -> None:
    async def stream(writes: CoalescingWrites) -> None:
        writes.write(b"data: 1\n\n")
        await asyncio.sleep(0.01)
        writes.write(b"data: 2\n\n")
        await asyncio.sleep(0.01)
        writes.close()

    received, sent = run(stream)
    assert received == b"data: 1\n\ndata: 2\n\n"
    assert sent == [b"data: 1\n\n", b"data: 2\n\n"]


def test_a_close_in_the_same_turn_sends_what_is_held_first() -> None:
    async def answer_and_close(writes: CoalescingWrites) -> None:
        writes.write(b"HTTP/1.1 400 Bad Request\r\n")
        writes.write(b"connection: close\r\n\r\n")
        writes.close()

    received, sent = run(answer_and_close)
    assert received == b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"
    assert len(sent) == 1


def test_write_eof_sends_what_is_held_first() -> None:
    async def answer_and_end(writes: CoalescingWrites) -> None:
        writes.write(b"last words")
        writes.write_eof()
        await asyncio.sleep(0.01)
        writes.close()

    received, _ = run(answer_and_end)
    assert received == b"last words"


def test_an_abort_drops_what_is_held() -> None:
    async def abort(writes: CoalescingWrites) -> None:
        writes.write(b"never sent")
        writes.abort()
        await asyncio.sleep(0.01)

    received, sent = run(abort)
    assert b"never sent" not in received
    assert sent == []


def test_a_large_write_is_not_held_to_the_end_of_the_turn() -> None:
    """Past `HOLD_AT_MOST` the bytes go at once, so the transport's write buffer limits
    (which pause a sender) see them."""
    big = b"x" * HOLD_AT_MOST
    seen: list[int] = []

    async def send_big(writes: CoalescingWrites) -> None:
        writes.write(b"head")
        writes.write(big)
        seen.append(len(writes.transport.writes))  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        writes.close()

    received, sent = run(send_big)
    assert received == b"head" + big
    assert seen == [1]  # written within the turn
    assert sent == [b"head" + big]


def test_the_protocol_hands_over_what_is_held_when_the_peer_stops_sending() -> None:
    """After `eof_received` a transport takes no more writes (TLS starts its shutdown):
    what the turn wrote before must already be with it."""
    config = uvicorn.Config(app=None, http=CoalescingHttpToolsProtocol)  # type: ignore[arg-type]
    config.load()

    async def answer_then_eof(writes: CoalescingWrites) -> None:
        protocol = CoalescingHttpToolsProtocol(config, ServerState(), app_state={})
        protocol.connection_made(writes.transport)  # type: ignore[arg-type]
        protocol.transport.write(b"an answer")
        protocol.eof_received()
        written_at_eof = list(writes.transport.writes)  # type: ignore[attr-defined]
        protocol.transport.close()
        assert written_at_eof == [b"an answer"]

    received, _ = run(answer_then_eof)
    assert received == b"an answer"


def test_nothing_is_written_once_the_transport_is_closing() -> None:
    async def late(writes: CoalescingWrites) -> None:
        writes.write(b"first")
        await asyncio.sleep(0)
        writes.transport.close()
        writes.write(b"too late")
        await asyncio.sleep(0.01)

    received, sent = run(late)
    assert received == b"first"
    assert sent == [b"first"]


def test_the_edge_server_speaks_through_it() -> None:
    """`make_server` serves HTTP/1.1 keep-alive answers whole and in order."""

    async def echo_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def exchange() -> bytes:
        async with served(echo_path) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\n\r\n"
            )
            received = b""
            while received.count(b"HTTP/1.1 200") < 2 or not received.endswith(b"/two"):
                chunk = await asyncio.wait_for(reader.read(65536), timeout=5)
                assert chunk, received
                received += chunk
            writer.close()
            return received

    received = uvloop.run(exchange())
    first, second = received.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"\r\n\r\n/one") and second.endswith(b"\r\n\r\n/two")
